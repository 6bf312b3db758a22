//! `GET /v1/crypto-keys`: see `gsign_functions_sealed`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_sealed::LIST_CRYPTO_KEYS)
}
