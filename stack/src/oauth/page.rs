//! The sign-in form and the error page: plain HTML, no script, no external assets.

use std::collections::HashMap;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

/// The parameters carried from `GET` to `POST /authorize` as hidden fields.
const CARRIED: [&str; 6] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
];

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:26rem;margin:2rem auto;\
padding:0 1rem;color:#1a1a1a;background:#fff;line-height:1.5}\
h1{font-size:1.4rem}label{display:block;margin:.4rem 0}\
input[type=text]{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;\
border:1px solid #555;border-radius:4px}\
fieldset{border:1px solid #555;border-radius:4px;margin:1rem 0}\
button{font-size:1rem;padding:.6rem 1.2rem;background:#0b5394;color:#fff;border:0;\
border-radius:4px;cursor:pointer}button:focus,input:focus{outline:3px solid #f4b400;\
outline-offset:2px}.error{color:#a00000;font-weight:bold}.note{color:#444}";

/// The sign-in form, with `error` said above it (and the values sent kept).
pub(super) fn form(
    params: &HashMap<String, String>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let hidden: String = CARRIED
        .iter()
        .filter_map(|name| {
            let value = params.get(*name)?;
            Some(format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n",
                escape(value)
            ))
        })
        .collect();
    let user = escape(params.get("username").map(String::as_str).unwrap_or(""));
    let role = params.get("role").map(String::as_str).unwrap_or("customer");
    let checked = |r: &str| if r == role { " checked" } else { "" };
    let error = error
        .map(|e| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"error\">{}</p>\n",
                escape(e)
            )
        })
        .unwrap_or_default();
    let described = if error.is_empty() {
        ""
    } else {
        " aria-describedby=\"error\" aria-invalid=\"true\""
    };
    let body = format!(
        "<h1>Sign in to HiFive</h1>\n\
<p class=\"note\">This is the local development issuer: there is no password. Choose a user \
name and a role.</p>\n{error}\
<form method=\"post\" action=\"/authorize\">\n{hidden}\
<label for=\"username\">User name</label>\n\
<input type=\"text\" id=\"username\" name=\"username\" value=\"{user}\" required \
maxlength=\"64\" autocomplete=\"username\" autofocus{described}>\n\
<fieldset><legend>Role</legend>\n\
<label><input type=\"radio\" name=\"role\" value=\"customer\"{}> Customer</label>\n\
<label><input type=\"radio\" name=\"role\" value=\"manager\"{}> Room manager</label>\n\
</fieldset>\n<button type=\"submit\">Sign in</button>\n</form>",
        checked("customer"),
        checked("manager"),
    );
    html(status, "Sign in · HiFive development issuer", &body)
}

/// A `400` page saying what is wrong with the request (no redirect).
pub(super) fn error(why: &str) -> Response {
    error_page(StatusCode::BAD_REQUEST, why)
}

/// A `503` page: the issuer cannot take the sign-in now.
pub(super) fn unavailable(why: &str) -> Response {
    let mut response = error_page(StatusCode::SERVICE_UNAVAILABLE, why);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    response
}

fn error_page(status: StatusCode, why: &str) -> Response {
    let body = format!(
        "<h1>Cannot sign in</h1>\n<p class=\"error\" role=\"alert\">{}</p>\n\
<p class=\"note\">This is the local development issuer of HiFive. Open the HiFive page again \
and choose Sign in.</p>",
        escape(why)
    );
    html(status, "Cannot sign in · HiFive", &body)
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n\
</body>\n</html>\n"
    );
    let mut response = (status, Html(page)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// Escapes text for HTML content and quoted attribute values.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
