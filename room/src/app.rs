//! The room use cases: register and read rooms (for managers), assign a paid booking its
//! room and release it when the payment is refunded (for the saga). Each change and its
//! event are written in one transaction; the rules are in [`domain`].

use hifive_common::{
    Db, DbConn, Outbox,
    idempotency::{self, Attempt, Prior, Render},
};
use shared_events::{
    AssignRejected, Assigned, Assignment, CancelAssigned, Envelope, Event, Paid, PayCanceled,
    PayId, RoomNumber, RoomRegistered,
};

use crate::{
    Error,
    domain::{self, Booking, OnPaid, OnRefund, Room},
    metrics::{self, Decision},
    store,
};

/// What a manager asks to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRoom {
    pub number: RoomNumber,
    pub used_count: i64,
    /// The state the client says the room is in (only `EMPTY` is allowed).
    pub status: Option<String>,
}

/// The outcome of a registration.
#[derive(Debug)]
pub enum Registered {
    /// The room, registered now.
    Created(Room),
    /// An earlier request with the same `Idempotency-Key`: its answer (or why not).
    Replayed(Prior),
}

/// The rooms, as the HTTP API uses them.
#[derive(Clone)]
pub struct Rooms {
    db: Db,
    outbox: Outbox,
}

impl Rooms {
    pub fn new(db: Db, outbox: Outbox) -> Self {
        Self { db, outbox }
    }

    /// Registers an `EMPTY` room and announces `RoomRegistered`. With an idempotency
    /// attempt, its answer (`render`) is stored with the room.
    #[tracing::instrument(
        name = "db",
        target = "hifive::db",
        skip_all,
        fields(op = "register_room")
    )]
    pub async fn register(
        &self,
        new: NewRoom,
        request_id: &str,
        idempotent: Option<(&Attempt, Render<'_, Room>)>,
    ) -> Result<Registered, Error> {
        domain::check_registration_status(new.status.as_deref())?;
        if let Some((attempt, _)) = idempotent
            && let Some(prior) = idempotency::lookup(&self.db, attempt).await?
        {
            return Ok(Registered::Replayed(prior));
        }
        let room = Room::registered(new.number, new.used_count);
        let resource = format!("room:{}", room.number);
        let mut tx = self.db.begin().await?;
        if let Some((attempt, _)) = idempotent
            && let Some(prior) = idempotency::claim(&mut tx, attempt, &resource).await?
        {
            tx.rollback().await?;
            return Ok(Registered::Replayed(prior));
        }
        if !store::insert(&mut tx, &room).await? {
            return Err(Error::RoomExists(room.number));
        }
        let registered = Event::RoomRegistered(RoomRegistered {
            room_number: room.number,
            room_status: room.status(),
            used_count: room.used_count,
            revision: Some(room.revision),
        });
        self.outbox
            .enqueue(&mut tx, &Envelope::new(registered), Some(request_id))
            .await?;
        if let Some((_, render)) = idempotent {
            idempotency::complete(&mut tx, &resource, &render(&room)).await?;
        }
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(room_number = %room.number, "room registered");
        Ok(Registered::Created(room))
    }

    pub async fn read(&self, number: RoomNumber) -> Result<Room, Error> {
        let mut conn = self.db.acquire().await?;
        store::find(&mut conn, number)
            .await?
            .ok_or(Error::NotFound(number))
    }

    /// One page of rooms, and how many there are.
    pub async fn list(&self, limit: i64, offset: i64) -> Result<(Vec<Room>, i64), Error> {
        Ok(store::page(&self.db, limit, offset).await?)
    }

    /// The rooms held by the booking paid with `pay_id` (the original's `findByPayId`).
    pub async fn held_with(&self, pay_id: PayId) -> Result<Vec<Room>, Error> {
        Ok(store::held_with(&self.db, pay_id).await?)
    }
}

/// Where the reaction to one event is written: the consumer's transaction, and the outbox
/// for what it announces (carrying the request id of the chain of events).
pub struct Reaction<'a> {
    pub tx: &'a mut DbConn,
    pub outbox: &'a Outbox,
    pub request_id: Option<&'a str>,
}

impl Reaction<'_> {
    async fn announce(self, event: Event) -> Result<(), sqlx::Error> {
        let envelope = Envelope::new(event);
        self.outbox
            .enqueue(self.tx, &envelope, self.request_id)
            .await
    }
}

/// A payment was made: give the booking its room (`Assigned`) or reject it
/// (`AssignRejected`).
pub async fn assign(on: Reaction<'_>, paid: &Paid) -> Result<(), sqlx::Error> {
    let (number, conference_id) = (paid.room_number, paid.conference_id);
    let booking = Booking {
        conference_id,
        pay_id: paid.pay_id,
    };
    store::lock(on.tx, number).await?;
    let room = store::find(on.tx, number).await?;
    let refunded = store::was_refunded(on.tx, conference_id).await?;
    let event = match domain::on_paid(room.as_ref(), booking, refunded) {
        OnPaid::Assign(room) => {
            store::save(on.tx, &room).await?;
            metrics::decided(Decision::Assigned);
            tracing::info!(%conference_id, room_number = %number, used_count = room.used_count, "room assigned");
            Event::Assigned(Assigned {
                room_number: number,
                room_status: Assignment::Assigned,
                conference_id,
                pay_id: booking.pay_id,
                used_count: room.used_count,
                revision: Some(room.revision),
            })
        }
        OnPaid::AlreadyHeld => return Ok(()),
        OnPaid::AlreadyRefunded => {
            tracing::info!(%conference_id, room_number = %number, "payment already refunded; the room is not taken");
            return Ok(());
        }
        OnPaid::Reject(why) => {
            let reason = why.reason();
            metrics::decided(Decision::Rejected);
            tracing::info!(%conference_id, room_number = %number, reason, "booking rejected");
            Event::AssignRejected(AssignRejected {
                room_number: number,
                conference_id,
                pay_id: booking.pay_id,
                reason: reason.into(),
            })
        }
    };
    on.announce(event).await
}

/// A payment was refunded: release the room if that booking holds it (`CancelAssigned`),
/// and remember the refund so that a late `Paid` takes nothing.
pub async fn release(on: Reaction<'_>, refund: &PayCanceled) -> Result<(), sqlx::Error> {
    let (number, conference_id) = (refund.room_number, refund.conference_id);
    store::lock(on.tx, number).await?;
    store::record_refund(on.tx, conference_id).await?;
    let room = store::find(on.tx, number).await?;
    let OnRefund::Release(room) = domain::on_refund(room.as_ref(), conference_id) else {
        return Ok(());
    };
    store::save(on.tx, &room).await?;
    metrics::decided(Decision::Released);
    tracing::info!(%conference_id, room_number = %number, "room released");
    on.announce(Event::CancelAssigned(CancelAssigned {
        room_number: number,
        room_status: Assignment::Canceled,
        conference_id,
        pay_id: refund.pay_id,
        used_count: room.used_count,
        revision: Some(room.revision),
    }))
    .await
}
