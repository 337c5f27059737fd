//! `recon keygen [--out FILE]`: a new Ed25519 signing key (mode 0600) and
//! its minisign-format public key `recon.pub` beside it, and the token key
//! for personal data (`RECON_TOKEN_KEY_FILE`, else `token.key` in the same
//! configuration folder) unless one exists: the keys a run needs.

use crate::cli::KeygenArgs;
use crate::error::Result;
use crate::evidence;
use crate::exit::ExitCode;
use crate::keys::{configured_signing_key, configured_token_key, write_token_key};

pub fn execute(args: &KeygenArgs) -> Result<ExitCode> {
    let path = args.out.clone().unwrap_or_else(configured_signing_key);
    let (key, public) = evidence::write_keypair(&path)?;
    eprintln!("secret key: {} (mode 0600; keep it private)", path.display());
    eprintln!("public key: {}", public.display());
    eprintln!("key id:     {}", key.key_id_hex());
    // The token key is kept if there is one: a new one changes every token.
    let token = configured_token_key();
    if std::env::var_os("RECON_TOKEN_KEY").is_none() && !token.exists() {
        write_token_key(&token)?;
        eprintln!(
            "token key:  {} (mode 0600; keep it: tokens in reports depend on it)",
            token.display()
        );
    }
    Ok(ExitCode::Ok)
}
