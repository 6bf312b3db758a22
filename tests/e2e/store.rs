//! Rows are read as core's types: a stored name the code does not know is an error naming the
//! value, never a silent default.

use gsign_core::envelopes::{EnvelopeStatus, RecipientStatus};
use gsign_platform::db;
use gsign_tests::TestDatabase;

#[tokio::test]
async fn a_stored_status_is_read_as_its_enum_and_an_unknown_one_is_refused() {
    let database = TestDatabase::create().await;
    let client = database.connect().await;
    let row = client
        .query_one(
            "SELECT 'completed'::varchar AS status, 'archived'::varchar AS unknown, \
             NULL::varchar AS missing",
            &[],
        )
        .await
        .expect("query");
    assert_eq!(
        db::stored::<EnvelopeStatus>(&row, "status").expect("a known status"),
        EnvelopeStatus::Completed
    );
    let refused = db::stored::<EnvelopeStatus>(&row, "unknown").expect_err("unknown");
    let chain = format!("{:#}", anyhow::Error::new(refused));
    assert!(
        chain.contains("\"archived\" is not a known envelope status"),
        "{chain}"
    );
    assert_eq!(
        db::stored_opt::<RecipientStatus>(&row, "missing").expect("null"),
        None
    );
    // A NULL where a value must be is an error too.
    assert!(db::stored::<RecipientStatus>(&row, "missing").is_err());
}
