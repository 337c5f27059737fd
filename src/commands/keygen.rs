//! `recon keygen [--out FILE]`: a new Ed25519 signing key (mode 0600) and
//! its minisign-format public key `recon.pub` beside it.

use crate::cli::KeygenArgs;
use crate::error::Result;
use crate::evidence;
use crate::exit::ExitCode;
use crate::keys::configured_signing_key;

pub fn execute(args: &KeygenArgs) -> Result<ExitCode> {
    let path = args.out.clone().unwrap_or_else(configured_signing_key);
    let (key, public) = evidence::write_keypair(&path)?;
    eprintln!("secret key: {} (mode 0600; keep it private)", path.display());
    eprintln!("public key: {}", public.display());
    eprintln!("key id:     {}", key.key_id_hex());
    Ok(ExitCode::Ok)
}
