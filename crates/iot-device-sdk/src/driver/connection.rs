//! The connection's life in the driver: connecting, subscribing, running, renewing the SAS
//! token, and losing the connection.

use std::time::{Duration, SystemTime};

use tokio::time::{Instant, timeout};

use super::link::{Link, LinkEvent};
use super::{Driver, link_stopped};
use crate::{ConnectionState, DisconnectReason, Error};

/// How long closing waits for the DISCONNECT to be written.
const GOODBYE: Duration = Duration::from_secs(1);

/// Where the connection stands.
///
/// ```text
///   Waiting --at--> Connecting --CONNACK--> Subscribing --SUBACK--> Online
///      ^                |                        |                  |   \
///      |                +-- failure, deadline ---+--------+         |    renew_at
///      |                                                  |         |     v
///      +------------------ backoff (or at once) ----------+-- lost -+-- Draining
///                                                                       | answers in, or deadline
///                                                                       v
///   Expired <-- token expired -- (any)                            Disconnecting
///                                                                       | written, or deadline
///                                                                       v
///                                                                  Waiting (at once)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No connection; the next attempt starts `at`.
    Waiting { at: Instant },
    /// TCP, TLS and CONNECT under way.
    Connecting { deadline: Instant },
    /// SUBSCRIBE sent (with `pkid`, once known); waiting for SUBACK.
    Subscribing {
        deadline: Instant,
        pkid: Option<u16>,
    },
    /// Subscribed: everything flows. `ready` once [`ConnectionState::Ready`] was shown.
    Online { ready: bool },
    /// About to reconnect with a fresh token: no new requests until those in flight are
    /// answered, or `deadline`.
    Draining { deadline: Instant },
    /// DISCONNECT handed over; waiting for it to be written, or `deadline`.
    Disconnecting {
        deadline: Instant,
        then: AfterGoodbye,
    },
    /// The token the client was given has expired: no more connections.
    Expired,
}

/// What follows a DISCONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AfterGoodbye {
    /// Reconnect at once with a fresh token.
    Renew,
    /// Stop: the token has expired.
    Expire,
}

impl Phase {
    /// The moment the phase times out, if it can.
    pub(super) fn deadline(&self) -> Option<Instant> {
        match *self {
            Self::Waiting { at } => Some(at),
            Self::Connecting { deadline }
            | Self::Subscribing { deadline, .. }
            | Self::Draining { deadline }
            | Self::Disconnecting { deadline, .. } => Some(deadline),
            Self::Online { .. } | Self::Expired => None,
        }
    }

    pub(super) fn is_expired(&self) -> bool {
        matches!(self, Self::Expired)
    }

    /// Whether the connection is subscribed (twin requests may be in flight).
    fn is_subscribed(&self) -> bool {
        matches!(
            self,
            Self::Online { .. } | Self::Draining { .. } | Self::Disconnecting { .. }
        )
    }
}

impl Driver {
    /// Acts on the phase's deadline and the token's, when they have passed.
    pub(super) fn on_phase_deadline(&mut self, now: Instant) {
        if self.expires_at.is_some_and(|at| at <= now) {
            self.expires_at = None;
            self.expire(now);
            return;
        }
        if self.renew_due(now) {
            self.renew_at = None;
            tracing::debug!("draining the connection to renew the SAS token");
            self.phase = Phase::Draining {
                deadline: now + self.drain_time(),
            };
        }
        if self.phase.deadline().is_none_or(|at| at > now) {
            return;
        }
        match self.phase {
            Phase::Waiting { .. } => self.connect(now),
            Phase::Connecting { .. } | Phase::Subscribing { .. } => {
                self.connection_lost(DisconnectReason::Timeout, now);
            }
            Phase::Draining { .. } => self.goodbye(AfterGoodbye::Renew, now),
            Phase::Disconnecting { then, .. } => self.after_goodbye(then, now),
            Phase::Online { .. } | Phase::Expired => {}
        }
    }

    /// When a token renewal is due: only an online connection is renewed; one still connecting
    /// is renewed once online.
    pub(super) fn renewal_at(&self) -> Option<Instant> {
        self.renew_at
            .filter(|_| matches!(self.phase, Phase::Online { .. }))
    }

    fn renew_due(&self, now: Instant) -> bool {
        self.renewal_at().is_some_and(|at| at <= now)
    }

    /// How long draining may wait for answers before disconnecting anyway: within the
    /// operation timeout, and early enough that the old token is still valid.
    fn drain_time(&self) -> Duration {
        let margin = match &self.options.auth {
            crate::options::Auth::Key { margin, .. } => *margin / 2,
            _ => self.options.operation_timeout,
        };
        margin.min(self.options.operation_timeout)
    }

    /// Opens a connection with fresh credentials.
    fn connect(&mut self, now: Instant) {
        let Some(credentials) = self
            .options
            .auth
            .credentials(&self.options.resource(), SystemTime::now())
        else {
            self.expire(now);
            return;
        };
        tracing::debug!(attempt = self.attempt, endpoint = ?self.options.endpoint(), "connecting");
        self.link = Some(Link::open(&self.options, credentials.password));
        self.renew_at = credentials.renew_after.map(|after| now + after);
        self.expires_at = credentials.expires_after.map(|after| now + after);
        self.phase = Phase::Connecting {
            deadline: now + self.options.connect_timeout,
        };
        self.set_state(ConnectionState::Connecting {
            attempt: self.attempt,
        });
    }

    /// Acts on an event of the connection.
    pub(super) fn on_link(&mut self, event: LinkEvent, now: Instant) {
        match event {
            LinkEvent::Connected => self.subscribe(now),
            LinkEvent::SubscribeSent(pkid) => {
                if let Phase::Subscribing { deadline, .. } = self.phase {
                    self.phase = Phase::Subscribing {
                        deadline,
                        pkid: Some(pkid),
                    };
                }
            }
            LinkEvent::Subscribed { pkid, refused } => self.on_subscribed(pkid, &refused, now),
            LinkEvent::Message {
                topic,
                payload,
                ack,
            } => self.on_message(&topic, payload, ack, now),
            LinkEvent::Acknowledged(tag) => self.outgoing.acknowledged(tag),
            LinkEvent::DisconnectSent => {
                if let Phase::Disconnecting { then, .. } = self.phase {
                    self.after_goodbye(then, now);
                }
            }
            LinkEvent::Lost(reason) => self.connection_lost(reason, now),
        }
    }

    fn subscribe(&mut self, now: Instant) {
        let filters = self.subscriptions();
        let Some(link) = self.link.as_mut() else {
            return;
        };
        if link.subscribe(&filters).is_err() {
            self.connection_lost(link_stopped(), now);
            return;
        }
        if let Phase::Connecting { deadline } = self.phase {
            self.phase = Phase::Subscribing {
                deadline,
                pkid: None,
            };
        }
    }

    /// The filters the device subscribes to, in one SUBSCRIBE: twin answers, desired
    /// properties, methods and (for devices) cloud-to-device messages. The hub keeps them in
    /// the device's session, but subscribing on every connection also covers a session the
    /// hub lost.
    fn subscriptions(&self) -> Vec<String> {
        let mut filters: Vec<String> = iot_twin::TwinSubscription::ALL
            .iter()
            .map(|filter| filter.as_str().to_owned())
            .collect();
        filters.push(iot_methods::topic::SUBSCRIPTION.to_owned());
        filters.extend(self.c2d_filter.clone());
        filters
    }

    fn on_subscribed(&mut self, pkid: u16, refused: &[usize], now: Instant) {
        let Phase::Subscribing {
            pkid: Some(sent), ..
        } = self.phase
        else {
            return;
        };
        if sent != pkid {
            return;
        }
        if !refused.is_empty() {
            let filters = self.subscriptions();
            let names: Vec<&str> = refused
                .iter()
                .filter_map(|index| filters.get(*index).map(String::as_str))
                .collect();
            let message = format!("the hub refused the subscription to {}", names.join(", "));
            self.connection_lost(DisconnectReason::Protocol { message }, now);
            return;
        }
        tracing::debug!("subscribed; reading the twin");
        self.phase = Phase::Online { ready: false };
        self.twin.connected();
    }

    /// Reports [`ConnectionState::Ready`] once the twin is in step after (re)connecting.
    pub(super) fn check_ready(&mut self) {
        if self.phase == (Phase::Online { ready: false }) && self.twin.is_live() {
            self.phase = Phase::Online { ready: true };
            self.attempt = 0;
            self.set_state(ConnectionState::Ready);
            if let Some(first) = self.outputs.first.take() {
                let _ = first.send(Ok(()));
            }
            tracing::info!("ready");
        }
    }

    /// While draining, disconnects once nothing awaits an answer.
    pub(super) fn drain_if_done(&mut self, now: Instant) {
        let drained = self
            .link
            .as_ref()
            .is_some_and(|link| link.unacknowledged() == 0)
            && !self.twin.awaiting_answers()
            && !self.outgoing.has_responses();
        if matches!(self.phase, Phase::Draining { .. }) && drained {
            self.goodbye(AfterGoodbye::Renew, now);
        }
    }

    /// Sends DISCONNECT, then `then`.
    fn goodbye(&mut self, then: AfterGoodbye, now: Instant) {
        let sent = self
            .link
            .as_mut()
            .is_some_and(|link| link.disconnect().is_ok());
        if sent {
            self.phase = Phase::Disconnecting {
                deadline: now + GOODBYE,
                then,
            };
        } else {
            self.after_goodbye(then, now);
        }
    }

    fn after_goodbye(&mut self, then: AfterGoodbye, now: Instant) {
        match then {
            AfterGoodbye::Renew => self.connection_lost(DisconnectReason::TokenRenewal, now),
            AfterGoodbye::Expire => self.stop_expired(),
        }
    }

    /// The token the client was given expired: say goodbye if connected, then stop.
    fn expire(&mut self, now: Instant) {
        tracing::warn!("the SAS token has expired; the client stops connecting");
        if self.link.is_some() && !matches!(self.phase, Phase::Disconnecting { .. }) {
            self.goodbye(AfterGoodbye::Expire, now);
        } else {
            self.stop_expired();
        }
    }

    fn stop_expired(&mut self) {
        self.drop_link();
        self.phase = Phase::Expired;
        self.renew_at = None;
        self.expires_at = None;
        self.twin.fail_all(&Error::TokenExpired);
        self.outgoing.fail_all(&Error::TokenExpired);
        if let Some(first) = self.outputs.first.take() {
            let _ = first.send(Err(DisconnectReason::TokenExpired));
        }
        self.set_state(ConnectionState::Disconnected {
            reason: DisconnectReason::TokenExpired,
            retry_at: None,
        });
    }

    /// The connection is gone (or never came): keep what must be sent again, and schedule the
    /// next attempt.
    pub(super) fn connection_lost(&mut self, reason: DisconnectReason, now: Instant) {
        if self.phase.is_expired() {
            return;
        }
        self.drop_link();
        let retry_at = match reason {
            DisconnectReason::TokenRenewal => now,
            _ => {
                let delay = self.options.retry.random_delay(self.attempt);
                self.attempt = self.attempt.saturating_add(1);
                now + delay
            }
        };
        tracing::info!(%reason, retry_in = ?retry_at.saturating_duration_since(now), "disconnected");
        if reason != DisconnectReason::TokenRenewal {
            if let Some(first) = self.outputs.first.take() {
                let _ = first.send(Err(reason.clone()));
            }
        }
        self.phase = Phase::Waiting { at: retry_at };
        self.set_state(ConnectionState::Disconnected {
            reason,
            retry_at: Some(retry_at.into_std()),
        });
    }

    /// Drops the connection: publishes it had not seen acknowledged go again on the next one,
    /// and the twin requests in flight are retried.
    fn drop_link(&mut self) {
        if let Some(link) = self.link.take() {
            for tag in link.close() {
                self.outgoing.unsend(tag);
            }
        }
        if self.phase.is_subscribed() {
            self.twin.connection_lost();
        }
        self.renew_at = None;
    }
}

/// Sends DISCONNECT and waits briefly for it to be written; the connection is dropped either way.
pub(super) async fn say_goodbye(link: &mut Link) {
    if link.disconnect().is_err() {
        return;
    }
    let written = async {
        loop {
            match link.next().await {
                LinkEvent::DisconnectSent | LinkEvent::Lost(_) => return,
                _ => {}
            }
        }
    };
    // A connection that cannot write within the grace period is dropped all the same.
    let _ = timeout(GOODBYE, written).await;
}
