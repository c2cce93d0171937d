//! What the reported outbox keeps: batches of coalesced updates, and what one publish carries.

use std::ops::Range;

use crate::Patch;
use crate::rules::members_size;

/// Updates coalesced into one patch: the composition of the patches of the tickets in
/// `tickets`, in order.
#[derive(Debug, Clone)]
pub(super) struct Batch {
    pub(super) patch: Patch,
    /// The patch's size as the outbox counts it (see [`crate::OutboxError::Full`]).
    pub(super) size: usize,
    /// The tickets of the updates it carries: consecutive, as batches never reorder updates.
    pub(super) tickets: Range<u64>,
}

impl Batch {
    /// A batch carrying `patch` for `tickets`, sized.
    pub(super) fn new(patch: Patch, tickets: Range<u64>) -> Self {
        let size = members_size(patch.as_map());
        Self {
            patch,
            size,
            tickets,
        }
    }
}

/// What one publish of a reported patch carries.
#[derive(Debug, Clone)]
pub(super) enum Load {
    /// A batch sent for the first time.
    Fresh(Batch),
    /// A batch sent before without a known outcome (an earlier copy may have been applied),
    /// which may be composed with the next waiting batch.
    Resent(Batch),
    /// A resent batch that must go alone: composed with the next batch it was rejected, and
    /// only its own outcome tells whether its earlier copy was applied.
    Alone(Batch),
    /// A resent batch composed with the waiting batch after it, sent as `patch`.
    Combined {
        patch: Patch,
        resent: Batch,
        fresh: Batch,
    },
}

impl Load {
    /// The patch to publish.
    pub(super) fn patch(&self) -> &Patch {
        match self {
            Self::Fresh(batch) | Self::Resent(batch) | Self::Alone(batch) => &batch.patch,
            Self::Combined { patch, .. } => patch,
        }
    }

    /// Whether an earlier copy of (part of) this load may already have been applied.
    pub(super) fn was_sent_before(&self) -> bool {
        !matches!(self, Self::Fresh(_))
    }

    /// The tickets carried, oldest first.
    pub(super) fn tickets(&self) -> Range<u64> {
        match self {
            Self::Fresh(batch) | Self::Resent(batch) | Self::Alone(batch) => batch.tickets.clone(),
            Self::Combined { resent, fresh, .. } => resent.tickets.start..fresh.tickets.end,
        }
    }

    /// The same load to publish again after its outcome was lost.
    pub(super) fn into_retry(self) -> Self {
        match self {
            Self::Fresh(batch) => Self::Resent(batch),
            other => other,
        }
    }
}
