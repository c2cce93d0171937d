//! [`Section`]: the tags, desired properties or reported properties of a twin.

use std::fmt;

use serde_json::{Map, Value};

use crate::metadata::Stamp;
use crate::{Limits, Metadata, Patch, Timestamp, TwinError, TwinVersion};

mod apply;
mod wire;

/// Which part of a twin a [`Section`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionKind {
    /// `tags`: written by the service only, never seen by the device, no `$version` or
    /// `$metadata` on the wire.
    Tags,
    /// `properties.desired`: written by the service, sent to the device.
    Desired,
    /// `properties.reported`: written by the device only.
    Reported,
}

impl SectionKind {
    /// The section's path in the twin document: `tags`, `properties.desired` or
    /// `properties.reported`.
    pub const fn path(self) -> &'static str {
        match self {
            Self::Tags => "tags",
            Self::Desired => "properties.desired",
            Self::Reported => "properties.reported",
        }
    }

    /// Whether the section carries `$version` and `$metadata` (desired and reported do).
    pub const fn is_versioned(self) -> bool {
        !matches!(self, Self::Tags)
    }
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// The tags, desired properties or reported properties of a twin: JSON content plus, for
/// desired and reported, a `$version` and a `$metadata` tree.
///
/// Content never holds `null` members (a `null` in a patch deletes) and always satisfies the
/// key rules of [`Patch`]. Every write is atomic: it is checked against the [`Limits`] first,
/// and a rejected write leaves the section exactly as it was. Each accepted write to desired or
/// reported properties adds one to `$version` and stamps the metadata of the nodes it touched,
/// their ancestors included. Tags are not versioned: [`Section::version`] and
/// [`Section::metadata`] are `None` for them.
///
/// Serializes in the REST form (`Serialize`, [`Section::to_rest_value`]); parse that form back
/// with [`Section::from_rest`].
///
/// ```
/// use iot_twin::{Limits, Patch, Section, SectionKind, Timestamp};
/// use serde_json::json;
///
/// let t0 = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
/// let mut reported = Section::new(SectionKind::Reported, t0);
/// let patch = Patch::from_value(json!({"fw": {"version": "1.2.0"}})).unwrap();
/// let version = reported.apply(&patch, &Limits::default(), t0).unwrap();
/// assert_eq!(version.map(|v| v.get()), Some(2));
/// assert_eq!(reported.to_get_value(), json!({"fw": {"version": "1.2.0"}, "$version": 2}));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    kind: SectionKind,
    content: Map<String, Value>,
    tracking: Option<Tracking>,
    /// The documented size of `content`, kept up to date by every write.
    size: usize,
}

/// `$version` and `$metadata` of a versioned section.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tracking {
    version: TwinVersion,
    metadata: Metadata,
}

/// What [`Section::replace`] and [`Section::clear`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replaced {
    /// The section's `$version` after the write (`None` for tags).
    pub version: Option<TwinVersion>,
    /// A patch that brings a copy of the old content to the new one by merging: the whole new
    /// content plus `null` for every key that disappeared, at the top level and inside objects
    /// that remain objects. This is what a device is sent when its desired properties are
    /// replaced or cleared.
    pub notification: Patch,
}

/// A write that has been checked against the limits and can no longer fail.
#[derive(Debug)]
pub(crate) enum Planned<'a> {
    /// Merge `patch` into the content.
    Merge {
        patch: &'a Patch,
        version: Option<TwinVersion>,
    },
    /// Install `content` (already free of `null`s) in place of the content.
    Replace {
        content: Map<String, Value>,
        size: usize,
        version: Option<TwinVersion>,
    },
}

impl Section {
    /// An empty section at `$version` 1, its metadata stamped `now`.
    pub fn new(kind: SectionKind, now: Timestamp) -> Self {
        let tracking = kind.is_versioned().then(|| Tracking {
            version: TwinVersion::INITIAL,
            metadata: Metadata::leaf(Stamp {
                at: now,
                version: None,
            }),
        });
        Self {
            kind,
            content: Map::new(),
            tracking,
            size: 0,
        }
    }

    /// Which section this is.
    pub fn kind(&self) -> SectionKind {
        self.kind
    }

    /// The content, without `$version` or `$metadata`.
    pub fn content(&self) -> &Map<String, Value> {
        &self.content
    }

    /// The `$version` (`None` for tags).
    pub fn version(&self) -> Option<TwinVersion> {
        self.tracking.as_ref().map(|t| t.version)
    }

    /// The `$metadata` tree (`None` for tags).
    pub fn metadata(&self) -> Option<&Metadata> {
        self.tracking.as_ref().map(|t| &t.metadata)
    }

    /// The content's size as IoT Hub measures it (see [`Limits`]).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether the content has no members.
    pub fn is_empty(&self) -> bool {
        self.content.is_empty()
    }

    /// Merges `patch` into the content (RFC 7386) and returns the new `$version` (`None` for
    /// tags).
    ///
    /// Nothing changes if the result would break a limit. Every accepted patch counts as a
    /// write, even one that changes no content.
    pub fn apply(
        &mut self,
        patch: &Patch,
        limits: &Limits,
        now: Timestamp,
    ) -> Result<Option<TwinVersion>, TwinError> {
        let planned = self.plan_merge(patch, limits)?;
        Ok(self.commit(planned, now).version)
    }

    /// Replaces the whole content (a service `PUT`). `null` members of `content` create nothing,
    /// as when merging it into an empty section. Every node of the new content is stamped.
    pub fn replace(
        &mut self,
        content: &Patch,
        limits: &Limits,
        now: Timestamp,
    ) -> Result<Replaced, TwinError> {
        let planned = self.plan_replace(Some(content), limits)?;
        Ok(self.commit(planned, now))
    }

    /// Removes all content (`{"properties":{"desired":null}}` or `{"tags":null}`). Fails only
    /// when `$version` is exhausted.
    pub fn clear(&mut self, now: Timestamp) -> Result<Replaced, TwinError> {
        let planned = self.plan_replace(None, &Limits::UNLIMITED)?;
        Ok(self.commit(planned, now))
    }

    /// Checks a merge of `patch` against the limits.
    pub(crate) fn plan_merge<'a>(
        &self,
        patch: &'a Patch,
        limits: &Limits,
    ) -> Result<Planned<'a>, TwinError> {
        let growth = apply::check_patch(patch, limits)?;
        let version = self.next_version()?;
        if self.size.saturating_add(growth) > limits.max_section_bytes(self.kind) {
            let size = apply::size_after_merge(&self.content, self.size, patch);
            self.check_size(size, limits)?;
        }
        Ok(Planned::Merge { patch, version })
    }

    /// Checks a replacement by `content` (`None`: clear) against the limits.
    pub(crate) fn plan_replace(
        &self,
        content: Option<&Patch>,
        limits: &Limits,
    ) -> Result<Planned<'static>, TwinError> {
        let (content, size) = match content {
            Some(patch) => apply::checked_content(patch, limits)?,
            None => (Map::new(), 0),
        };
        self.check_size(size, limits)?;
        Ok(Planned::Replace {
            content,
            size,
            version: self.next_version()?,
        })
    }

    /// Carries out a planned write. For a replacement, `notification` is the patch to send a
    /// device; for a merge it is empty (the device is sent the merged patch itself).
    pub(crate) fn commit(&mut self, planned: Planned<'_>, now: Timestamp) -> Replaced {
        match planned {
            Planned::Merge { patch, version } => {
                let stamp = self.stamp(now, version);
                let mut change = apply::SizeChange::default();
                let patch = patch.as_map();
                match &mut self.tracking {
                    Some(tracking) => {
                        let metadata = &mut tracking.metadata;
                        apply::merge_into(&mut self.content, metadata, patch, stamp, &mut change);
                    }
                    None => {
                        let untracked = &mut apply::Untracked;
                        apply::merge_into(&mut self.content, untracked, patch, stamp, &mut change);
                    }
                }
                self.finish(change.applied_to(self.size), version)
            }
            Planned::Replace {
                content,
                size,
                version,
            } => {
                let notification = apply::replacement_notice(&self.content, &content);
                let stamp = self.stamp(now, version);
                if let Some(tracking) = &mut self.tracking {
                    tracking.metadata = Metadata::for_members(&content, stamp);
                }
                self.content = content;
                Replaced {
                    notification,
                    ..self.finish(size, version)
                }
            }
        }
    }

    fn finish(&mut self, size: usize, version: Option<TwinVersion>) -> Replaced {
        self.size = size;
        if let (Some(tracking), Some(version)) = (&mut self.tracking, version) {
            tracking.version = version;
        }
        Replaced {
            version,
            notification: Patch::new(),
        }
    }

    /// The stamp for a write: desired properties record the new `$version` too.
    fn stamp(&self, now: Timestamp, version: Option<TwinVersion>) -> Stamp {
        Stamp {
            at: now,
            version: version.filter(|_| self.kind == SectionKind::Desired),
        }
    }

    fn next_version(&self) -> Result<Option<TwinVersion>, TwinError> {
        match &self.tracking {
            None => Ok(None),
            Some(tracking) => {
                tracking
                    .version
                    .next()
                    .map(Some)
                    .ok_or(TwinError::CounterExhausted {
                        counter: self.kind.path(),
                    })
            }
        }
    }

    /// Rejects a write after which the section is over its limit, unless it shrinks the
    /// section (so a section left oversized by a lowered limit can still be trimmed).
    fn check_size(&self, size: usize, limits: &Limits) -> Result<(), TwinError> {
        let limit = limits.max_section_bytes(self.kind);
        if size > limit && size > self.size {
            return Err(TwinError::SectionTooLarge {
                section: self.kind,
                size,
                limit,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
