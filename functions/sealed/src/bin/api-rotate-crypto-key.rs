//! `POST /v1/crypto-keys/{id}/rotate`: see `gsign_functions_sealed`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_sealed::ROTATE_CRYPTO_KEY)
}
