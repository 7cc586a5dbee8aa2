//! The requests and answers of pay's API, as JSON.

use hifive_common::{Body, auth::ChargeGrant};
use serde_json::{Value, json};
use shared_events::{ConferenceId, PayId, PayStatus, RoomNumber};

use super::{ChargeAnswer, ChargeRequest, OverloadRequest, PaymentView};
use crate::{domain::Payment, error::Error, overload::Latency};

fn body<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, (u16, &'static str)> {
    Body::<T>::from_object(v.as_object().unwrap().clone())
        .map(|b| b.0)
        .map_err(|e| (e.status.as_u16(), e.error))
}

fn grant(conference_id: i64, room_number: i64) -> ChargeGrant {
    ChargeGrant {
        conference_id: ConferenceId::new(conference_id).unwrap(),
        room_number: RoomNumber::new(room_number).unwrap(),
        customer: "alice".into(),
    }
}

#[test]
fn a_charge_request_reads_lenient_ids_and_ignores_a_non_text_customer() {
    let r: ChargeRequest = body(json!({
        "conferenceId": "7", "roomNumber": 5, "conferenceStatus": "CREATED", "customer": 3
    }))
    .unwrap();
    assert_eq!(r.conference_id, ConferenceId::new(7).unwrap());
    assert_eq!(r.room_number, RoomNumber::new(5).unwrap());
    assert_eq!(r.customer, None);
    let booking = r.booking(None).unwrap();
    assert_eq!(booking.customer, "anonymous");
    let r: ChargeRequest =
        body(json!({"conferenceId": 7, "roomNumber": 5, "customer": "bob"})).unwrap();
    assert_eq!(r.booking(None).unwrap().customer, "bob");
}

#[test]
fn a_charge_request_needs_both_ids_and_a_text_status() {
    for (bad, code) in [
        (json!({"roomNumber": 5}), "missing_field"),
        (json!({"conferenceId": 7}), "missing_field"),
        (json!({"conferenceId": 0, "roomNumber": 5}), "invalid_field"),
        (
            json!({"conferenceId": 7, "roomNumber": "five"}),
            "invalid_field",
        ),
        (
            json!({"conferenceId": 7, "roomNumber": 5, "conferenceStatus": 1}),
            "invalid_field",
        ),
    ] {
        assert_eq!(
            body::<ChargeRequest>(bad.clone()),
            Err((422, code)),
            "{bad}"
        );
    }
}

#[test]
fn a_grant_charges_its_own_booking_for_its_customer_only() {
    let r: ChargeRequest =
        body(json!({"conferenceId": 7, "roomNumber": 5, "customer": "mallory"})).unwrap();
    let booking = r.clone().booking(Some(grant(7, 5))).unwrap();
    assert_eq!(
        booking.customer, "alice",
        "the grant's customer, not the body's"
    );
    for other in [grant(8, 5), grant(7, 6)] {
        assert!(matches!(
            r.clone().booking(Some(other)),
            Err(Error::NotGranted { .. })
        ));
    }
}

#[test]
fn the_charge_answer_is_the_originals() {
    let answer = ChargeAnswer::complete(PayId::new(12).unwrap());
    assert_eq!(
        serde_json::to_string(&answer).unwrap(),
        r#"{"status":"Req_complete","payid":"12"}"#
    );
}

#[test]
fn a_payment_shows_its_fields() {
    let mut payment = Payment {
        pay_id: PayId::new(3).unwrap(),
        status: PayStatus::Canceled,
        conference_id: ConferenceId::new(7).unwrap(),
        room_number: RoomNumber::new(5).unwrap(),
        customer: Some("alice".into()),
    };
    assert_eq!(
        serde_json::to_value(PaymentView::from(&payment)).unwrap(),
        json!({"payId": 3, "status": "CANCELED", "conferenceId": 7, "roomNumber": 5, "customer": "alice"})
    );
    payment.customer = None;
    assert_eq!(
        serde_json::to_value(PaymentView::from(&payment)).unwrap()["customer"],
        Value::Null
    );
}

#[test]
fn overload_settings_read_numbers_ranges_and_off() {
    let r: OverloadRequest = body(json!({"latencyMs": "400..620", "capacity": "10"})).unwrap();
    assert_eq!(r.latency_ms, Latency::parse("400..620").ok());
    assert_eq!(r.capacity, Some(10));
    let r: OverloadRequest = body(json!({"latencyMs": 500})).unwrap();
    assert_eq!(r.latency_ms, Latency::parse("500").ok());
    assert_eq!(r.capacity, None);
    for off in [
        json!({}),
        json!({"latencyMs": ""}),
        json!({"latencyMs": null}),
    ] {
        assert_eq!(body::<OverloadRequest>(off).unwrap().latency_ms, None);
    }
    for bad in [
        json!({"latencyMs": "fast"}),
        json!({"latencyMs": "620..400"}),
        json!({"latencyMs": true}),
        json!({"latencyMs": 1.5}),
        json!({"capacity": "many"}),
        json!({"capacity": -1}),
    ] {
        assert_eq!(
            body::<OverloadRequest>(bad.clone()),
            Err((422, "invalid_field")),
            "{bad}"
        );
    }
}
