//! The envelopes jobs: the signing worker (`worker`: one signature per step, then the seal in
//! `completion` and long-term validation data in `archive`), archive timestamp renewal
//! (`renewal`), SES feedback (`mail_events`) and the expiry and reminder schedules
//! (`schedules`).

pub mod archive;
pub mod completion;
pub mod mail_events;
pub mod renewal;
pub mod schedules;
pub mod worker;
