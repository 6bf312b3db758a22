//! GSign's PDF work.
//!
//! For now: judging an untrusted upload. [`sniff()`] tells a PDF, DOCX or XLSX from its bytes;
//! [`inspect()`] loads a PDF under [`Limits`] and reports its pages or a [`Rejection`];
//! [`inspect_isolated`] runs `inspect` in a child process (see [`sandbox`]) so that a parser
//! abort, an endless loop or a huge allocation cannot take down the calling process.

pub mod inspect;
mod rejection;
pub mod sandbox;
pub mod signatures;
pub mod sniff;

pub use inspect::{inspect, Limits, PageInfo, PdfInfo, Rejection};
pub use sandbox::{
    child_main_if_requested, inspect_isolated, limited_command, ProgramLimits, EXEC_LIMITED_ARG,
    INSPECT_ARG,
};
pub use sniff::{sniff, FileKind};
