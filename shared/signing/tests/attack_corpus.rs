//! The committed attack corpus (`corpus/`, made by `cargo run -p gsign-tests --bin
//! attack-corpus`; `corpus/corpus.json` says how each file was made): our verifier calls the
//! two good files valid and refuses every attack, naming a reason. pyHanko's verdicts on the
//! same files are checked end to end (`verify::the_committed_attack_corpus_agrees_with_pyhanko`).

use std::path::PathBuf;

use gsign_signing::verify::verify;
use gsign_signing::x509::parse_pem_bundle;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

#[test]
fn every_attack_of_the_corpus_is_refused_with_a_reason_and_the_good_files_pass() {
    let dir = corpus();
    let roots =
        parse_pem_bundle(&std::fs::read_to_string(dir.join("roots.pem")).expect("roots.pem"))
            .expect("roots");
    let manifest: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("corpus.json")).expect("corpus.json"),
    )
    .expect("manifest");
    assert!(manifest.len() >= 18, "the corpus lost files");
    for entry in &manifest {
        let file = entry["file"].as_str().expect("file");
        let expected = entry["valid"].as_bool().expect("valid");
        let bytes = std::fs::read(dir.join(file)).expect("a corpus file");
        let report = verify(&bytes, &roots);
        assert_eq!(
            report.all_valid_and_trusted(),
            expected,
            "{file} ({}): {report:#?}",
            entry["how"]
        );
        if !expected {
            let reasons = report.problems.len()
                + report
                    .signatures
                    .iter()
                    .map(|s| s.problems.len() + usize::from(s.trust_problem.is_some()))
                    .sum::<usize>()
                + report
                    .revisions
                    .iter()
                    .filter(|r| r.change == Some(gsign_signing::verify::Change::Modified))
                    .count();
            assert!(
                reasons > 0 || report.signatures.is_empty(),
                "{file}: refused without a reason: {report:#?}"
            );
        }
    }
}
