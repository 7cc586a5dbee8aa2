//! The payment grant: what conference's call to pay may charge.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use shared_events::{ConferenceId, RoomNumber};

use super::TokenError;

/// What conference's payment call is allowed to charge: one booking, for one room and one
/// customer. Signed by conference with the shared secret for one minute; pay charges only
/// what the grant names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeGrant {
    pub conference_id: ConferenceId,
    pub room_number: RoomNumber,
    pub customer: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct GrantClaims {
    iss: String,
    aud: String,
    sub: String,
    iat: u64,
    exp: u64,
    #[serde(flatten)]
    grant: ChargeGrant,
}

const GRANT_ISSUER: &str = "conference";
const GRANT_AUDIENCE: &str = "pay";
const GRANT_TTL_SECS: u64 = 60;

impl ChargeGrant {
    /// The bearer token conference sends with its payment call.
    pub fn sign(&self, secret: &str) -> String {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = GrantClaims {
            iss: GRANT_ISSUER.into(),
            aud: GRANT_AUDIENCE.into(),
            sub: GRANT_ISSUER.into(),
            iat: now,
            exp: now + GRANT_TTL_SECS,
            grant: self.clone(),
        };
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap_or_default()
    }

    /// Checks a payment call's token: signed with `secret` by conference, for pay, not expired.
    pub fn verify(token: &str, secret: &str) -> Result<Self, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[GRANT_ISSUER]);
        validation.set_audience(&[GRANT_AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        jsonwebtoken::decode::<GrantClaims>(
            token,
            &DecodingKey::from_secret(secret.as_bytes()),
            &validation,
        )
        .map(|data| data.claims.grant)
        .map_err(|e| TokenError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_charge_grant_is_checked_against_its_secret_and_audience() {
        let secret = "0123456789abcdef0123456789abcdef";
        let grant = ChargeGrant {
            conference_id: ConferenceId::new(7).unwrap(),
            room_number: RoomNumber::new(3).unwrap(),
            customer: "alice".into(),
        };
        let token = grant.sign(secret);
        assert_eq!(ChargeGrant::verify(&token, secret).unwrap(), grant);
        assert!(ChargeGrant::verify(&token, "another secret of 32 characters!!").is_err());
        assert!(ChargeGrant::verify("not.a.token", secret).is_err());
    }
}
