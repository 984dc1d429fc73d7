//! A software passkey for the Rust tests: what a phone or security key does
//! in a WebAuthn ceremony (WebAuthn Level 3 §6), with a real P-256 key, so
//! the server's checks run on real signatures. The browser suite uses
//! Chromium's own virtual authenticator instead.
//!
//! It answers the server's options JSON with the JSON a browser's
//! `PublicKeyCredential.toJSON()` gives: "none" attestation, user present
//! and verified, and a signature counter that counts up; or, as a
//! [`Device`] says, one that does not verify the user, or a synced passkey
//! (backed up, counter always 0, as phones' password managers make them).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// User present, user verified, backup eligible, backed up, attested
/// credential data included (WebAuthn §6.1 flags).
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const BE: u8 = 0x08;
const BS: u8 = 0x10;
const AT: u8 = 0x40;

/// How the device behind a passkey answers.
#[derive(Clone, Copy, Debug)]
pub struct Device {
    /// Asks for the fingerprint, face or PIN (the UV flag).
    pub verifies_user: bool,
    /// Kept in a synced password manager: backed up, and no counter.
    pub synced: bool,
}

impl Default for Device {
    fn default() -> Self {
        Self {
            verifies_user: true,
            synced: false,
        }
    }
}

pub struct SoftPasskey {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    rp_id: String,
    origin: String,
    /// The signature counter; a clone that answers with an old one is
    /// what the server must refuse.
    pub counter: u32,
    pub device: Device,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.as_str().expect("a base64url string"))
        .expect("base64url")
}

/// CBOR (RFC 8949) of the little this needs: a head, then bytes or text.
fn head(out: &mut Vec<u8>, major: u8, len: usize) {
    let major = major << 5;
    match len {
        0..=23 => out.push(major | len as u8),
        24..=255 => out.extend([major | 24, len as u8]),
        _ => {
            out.push(major | 25);
            out.extend((len as u16).to_be_bytes());
        }
    }
}

fn cbor_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    head(out, 2, bytes.len());
    out.extend(bytes);
}

fn cbor_text(out: &mut Vec<u8>, text: &str) {
    head(out, 3, text.len());
    out.extend(text.as_bytes());
}

/// A small CBOR integer (-24..=23).
fn cbor_int(out: &mut Vec<u8>, n: i8) {
    match n {
        0.. => head(out, 0, n as usize),
        _ => head(out, 1, (-1 - n) as usize),
    }
}

impl SoftPasskey {
    /// Makes a passkey from the server's creation options (`{"publicKey":
    /// …}`) on a page at `origin`; returns it and the registration answer.
    pub fn create(options: &str, origin: &str) -> (Self, String) {
        Self::create_on(Device::default(), options, origin)
    }

    /// [`create`](Self::create) on a device that answers as `device` says.
    pub fn create_on(device: Device, options: &str, origin: &str) -> (Self, String) {
        let options: Value = serde_json::from_str(options).expect("options JSON");
        let public_key = &options["publicKey"];
        let mut credential_id = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut credential_id);
        let passkey = Self {
            key: SigningKey::random(&mut rand::rngs::OsRng),
            credential_id,
            user_handle: unb64(&public_key["user"]["id"]),
            rp_id: public_key["rp"]["id"].as_str().expect("rp.id").to_owned(),
            origin: origin.to_owned(),
            counter: 0,
            device,
        };
        let client_data = passkey.client_data("webauthn.create", &public_key["challenge"]);
        let mut attested = passkey.auth_data(AT);
        attested.extend([0u8; 16]); // AAGUID: none
        attested.extend((passkey.credential_id.len() as u16).to_be_bytes());
        attested.extend(&passkey.credential_id);
        attested.extend(passkey.cose_key());
        // {"fmt": "none", "attStmt": {}, "authData": …}
        let mut object = Vec::new();
        head(&mut object, 5, 3);
        cbor_text(&mut object, "fmt");
        cbor_text(&mut object, "none");
        cbor_text(&mut object, "attStmt");
        head(&mut object, 5, 0);
        cbor_text(&mut object, "authData");
        cbor_bytes(&mut object, &attested);
        let id = b64(&passkey.credential_id);
        let answer = json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&object),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        });
        (passkey, answer.to_string())
    }

    /// Signs in: answers the server's request options (`{"publicKey":
    /// …}`) from the page at this passkey's origin.
    pub fn get(&mut self, options: &str) -> String {
        let options: Value = serde_json::from_str(options).expect("options JSON");
        if !self.device.synced {
            self.counter += 1;
        }
        self.answer(&options["publicKey"]["challenge"])
    }

    /// The answer a clone of this passkey would give: the same key, the
    /// counter it had before this one moved on.
    pub fn get_as_clone(&mut self, options: &str, counter: u32) -> String {
        let options: Value = serde_json::from_str(options).expect("options JSON");
        let kept = std::mem::replace(&mut self.counter, counter);
        let answer = self.answer(&options["publicKey"]["challenge"]);
        self.counter = kept;
        answer
    }

    fn answer(&self, challenge: &Value) -> String {
        let client_data = self.client_data("webauthn.get", challenge);
        let auth_data = self.auth_data(0);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature: DerSignature = self.key.sign(&signed);
        let id = b64(&self.credential_id);
        json!({
            "id": id,
            "rawId": id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.as_bytes()),
                "userHandle": b64(&self.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
        .to_string()
    }

    fn client_data(&self, kind: &str, challenge: &Value) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    /// The authenticator data: the device's own flags plus `flags`.
    fn auth_data(&self, flags: u8) -> Vec<u8> {
        let mut flags = flags | UP;
        if self.device.verifies_user {
            flags |= UV;
        }
        if self.device.synced {
            flags |= BE | BS;
        }
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        data
    }

    /// The public key as COSE (RFC 9053): EC2, ES256, P-256, x, y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut key = Vec::new();
        head(&mut key, 5, 5);
        cbor_int(&mut key, 1);
        cbor_int(&mut key, 2);
        cbor_int(&mut key, 3);
        cbor_int(&mut key, -7);
        cbor_int(&mut key, -1);
        cbor_int(&mut key, 1);
        cbor_int(&mut key, -2);
        cbor_bytes(&mut key, point.x().expect("x"));
        cbor_int(&mut key, -3);
        cbor_bytes(&mut key, point.y().expect("y"));
        key
    }
}
