//! `POST /v1/crypto-keys/{id}/revoke`: see `gsign_functions_sealed`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_sealed::REVOKE_CRYPTO_KEY)
}
