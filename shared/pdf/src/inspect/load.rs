//! Loading with lopdf, with limits applied while it parses.
//!
//! lopdf 0.47 has two hooks into a load: `LoadOptions::max_decompressed_size` (a per-stream
//! bound on the cross-reference and object streams it decodes) and `LoadOptions::filter`, a
//! plain `fn` called with every object it parses, including each member of an object stream,
//! before it decodes object streams. The filter here counts objects, measures their depth,
//! and decodes object streams itself against one budget for the whole file. At the first limit
//! it unwinds out of lopdf (`resume_unwind`, which skips the panic hook), so the rest of the file
//! is never parsed; `load` catches that unwind and reports the limit.
//!
//! The filter is a `fn`, not a closure, so its state lives in a static. Loads are serialised
//! by a second lock; the state is a static rather than a thread-local because lopdf parses on
//! rayon's pool when its `rayon` feature is on (another crate could enable it).
//!
//! Not bounded here: the cross-reference data (parsed before the first object; a long `/Prev`
//! chain or a huge table costs its time and memory), the per-stream work of xref streams, and
//! the parse time of each object. The child process is the backstop for those.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard, PoisonError};

use lopdf::xref::XrefEntry;
use lopdf::{DecompressError, Document, LoadOptions, Object, ObjectId, Stream};

use super::depth;
use crate::{Limits, Rejection};

/// A document that loaded as written, and what is left of the decompression budget.
pub(super) struct Loaded {
    pub(super) document: Document,
    pub(super) decompress_budget: DecompressBudget,
}

/// One allowance of decompressed bytes for the whole file.
pub(super) struct DecompressBudget {
    limit: u64,
    left: u64,
}

impl DecompressBudget {
    fn new(limit: u64) -> Self {
        DecompressBudget { limit, left: limit }
    }

    /// The decoded content of `stream`, charged to the budget; `Ok(None)` when it does not
    /// decode (unknown filter, corrupt data).
    pub(super) fn decode(&mut self, stream: &Stream) -> Result<Option<Vec<u8>>, Rejection> {
        let cap = usize::try_from(self.left).unwrap_or(usize::MAX);
        match stream.decompressed_content_with_limit(cap) {
            Ok(data) => {
                self.left = self
                    .left
                    .saturating_sub(u64::try_from(data.len()).unwrap_or(u64::MAX));
                Ok(Some(data))
            }
            Err(lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. })) => {
                Err(self.exceeded())
            }
            Err(_) => Ok(None),
        }
    }

    fn exceeded(&self) -> Rejection {
        Rejection::DecompressionBomb { limit: self.limit }
    }
}

/// What the load filter knows about the load in progress.
struct LoadState {
    max_objects: usize,
    max_depth: usize,
    objects: usize,
    budget: DecompressBudget,
    stopped_by: Option<Rejection>,
}

impl LoadState {
    fn new(limits: &Limits) -> Self {
        LoadState {
            max_objects: limits.max_objects,
            max_depth: limits.max_depth,
            objects: 0,
            budget: DecompressBudget::new(limits.max_decompressed_bytes),
            stopped_by: None,
        }
    }

    fn admit(&mut self, object: &mut Object) -> Result<(), Rejection> {
        self.objects += 1;
        if self.objects > self.max_objects {
            return Err(Rejection::TooManyObjects {
                limit: self.max_objects,
            });
        }
        if depth::object_exceeds(object, self.max_depth) {
            return Err(self.too_deep());
        }
        if let Object::Stream(stream) = object {
            if stream.dict.has_type(b"ObjStm") {
                // Decode it here, against the file's budget, and hand lopdf the plain
                // content: it then only copies it. A stream that does not decode is left as
                // it is; lopdf fails on it too, and its objects go missing (see `check`).
                if let Some(plain) = self.budget.decode(stream)? {
                    if depth::scan_exceeds(&plain, self.max_depth) {
                        return Err(self.too_deep());
                    }
                    stream.set_plain_content(plain);
                }
            }
        }
        Ok(())
    }

    fn too_deep(&self) -> Rejection {
        Rejection::TooDeep {
            limit: self.max_depth,
        }
    }
}

/// Serialises loads: the filter's state is global.
static LOAD_SERIAL: Mutex<()> = Mutex::new(());
static LOAD_STATE: Mutex<Option<LoadState>> = Mutex::new(None);

fn load_state() -> MutexGuard<'static, Option<LoadState>> {
    LOAD_STATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The payload unwound out of lopdf when a limit is reached; the reason is in `LoadState`.
struct StopLoad;

/// The `LoadOptions::filter`: keep every object, unless a limit is reached.
fn admit_object(id: ObjectId, object: &mut Object) -> Option<(ObjectId, Object)> {
    let verdict = {
        let mut state = load_state();
        match state.as_mut() {
            Some(state) => state.admit(object).map_err(|rejection| {
                state.stopped_by = Some(rejection);
            }),
            None => Ok(()),
        }
    };
    if verdict.is_err() {
        // The lock is released: nothing is poisoned by this unwind.
        resume_unwind(Box::new(StopLoad));
    }
    // lopdf keeps a top-level object through the `&mut` it lent us and ignores this value;
    // an object-stream member is taken from this value. Members are never streams, so a
    // (possibly large) stream need not be copied.
    let kept = match object {
        Object::Stream(_) => Object::Null,
        other => other.clone(),
    };
    Some((id, kept))
}

/// Load `bytes` under `limits`, refusing what did not load as written.
pub(super) fn load(bytes: &[u8], limits: &Limits) -> Result<Loaded, Rejection> {
    let _serial = LOAD_SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    *load_state() = Some(LoadState::new(limits));
    let options = LoadOptions {
        filter: Some(admit_object),
        // Per stream; the filter keeps the total for object streams.
        max_decompressed_size: Some(
            usize::try_from(limits.max_decompressed_bytes).unwrap_or(usize::MAX),
        ),
        ..LoadOptions::default()
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        Document::load_mem_with_options(bytes, options)
    }));
    let state = load_state()
        .take()
        .unwrap_or_else(|| LoadState::new(limits));
    if let Some(rejection) = state.stopped_by {
        return Err(rejection);
    }
    let document = match outcome {
        Ok(Ok(document)) => document,
        Ok(Err(lopdf::Error::Decompress(DecompressError::MemoryLimitExceeded { .. }))) => {
            return Err(state.budget.exceeded())
        }
        Ok(Err(error)) => {
            return Err(Rejection::damaged(format!(
                "it does not load ({})",
                describe(&error)
            )))
        }
        Err(_panic) => return Err(Rejection::damaged("the PDF parser panicked on it")),
    };
    check(&document)?;
    Ok(Loaded {
        document,
        decompress_budget: state.budget,
    })
}

/// Refuse a document that is encrypted, or that lopdf did not load as written.
fn check(document: &Document) -> Result<(), Rejection> {
    // lopdf removes `/Encrypt` from the trailer of a file it could decrypt (empty user
    // password) and keeps it on one it could not.
    if document.trailer.has(b"Encrypt") || document.encryption_state.is_some() {
        return Err(Rejection::Encrypted);
    }
    if document.xref_recovery.is_some() {
        // An incremental update (signing) would lose `/Prev`, and the repaired table may
        // describe objects from an older revision.
        return Err(Rejection::damaged(
            "its cross-reference table is broken and had to be repaired",
        ));
    }
    // Lenient loading skips objects that do not parse; a later rewrite would drop them.
    let missing = document
        .reference_table
        .entries
        .iter()
        .filter(|&(&number, entry)| {
            let id = match entry {
                XrefEntry::Normal { generation, .. } => (number, *generation),
                XrefEntry::Compressed { .. } => (number, 0),
                XrefEntry::Free | XrefEntry::UnusableFree => return false,
            };
            !document.objects.contains_key(&id)
        })
        .count();
    if missing > 0 {
        return Err(Rejection::damaged(format!(
            "{missing} of its objects do not parse"
        )));
    }
    Ok(())
}

/// A fixed description of a load error: lopdf's messages can quote the file.
fn describe(error: &lopdf::Error) -> &'static str {
    use lopdf::{Error, ParseError};
    match error {
        Error::Parse(ParseError::InvalidFileHeader) => "invalid file header",
        Error::Parse(_) | Error::Xref(_) | Error::MissingXrefEntry | Error::InvalidOffset(_) => {
            "unreadable cross-reference data or trailer"
        }
        Error::Decompress(_) => "a stream does not decompress",
        Error::Decryption(_) | Error::UnsupportedSecurityHandler(_) | Error::InvalidPassword => {
            "unreadable encryption"
        }
        _ => "malformed structure",
    }
}
