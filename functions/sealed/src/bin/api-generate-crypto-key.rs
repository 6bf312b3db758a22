//! `POST /v1/crypto-keys/generate`: see `gsign_functions_sealed`.
fn main() -> std::process::ExitCode {
    gsign_platform::lambda::main(&gsign_functions_sealed::GENERATE_CRYPTO_KEY)
}
