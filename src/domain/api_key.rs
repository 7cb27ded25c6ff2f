//! API keys: generated secrets that are only ever stored as SHA-256 hashes.
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The permission `POST /sends/id/create` requires.
pub const SENDS_ID_CREATE: &str = "sends.id.create";
/// The permission `POST /campaigns/trigger/send` requires (Braze's name).
pub const CAMPAIGNS_TRIGGER_SEND: &str = "campaigns.trigger.send";
/// The permission `GET /sends/data_series` requires (Braze's name).
pub const SENDS_DATA_SERIES: &str = "sends.data_series";

/// A freshly generated REST API key (Braze keys are UUIDs; so are ours: 122 random bits).
/// It exists in memory only long enough to be hashed and shown once.
pub struct ApiKey(String);

impl ApiKey {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// A key whose value someone chose (a fixture's `api_key`): 16 to 256 printable ASCII
    /// characters without spaces, so it travels as a bearer token unchanged.
    pub fn parse(raw: impl Into<String>) -> Result<Self, String> {
        let raw = raw.into();
        if !(16..=256).contains(&raw.len()) {
            return Err("an API key is 16 to 256 characters long".into());
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("an API key is printable ASCII without spaces".into());
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> KeyHash {
        hash_secret(&self.0)
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// SHA-256 of a secret. High-entropy keys need no salt or slow hash.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    /// Constant-time comparison, so timing tells nothing about how much of a hash matched.
    pub fn ct_eq(&self, other: &KeyHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHash(***)")
    }
}

pub fn hash_secret(secret: &str) -> KeyHash {
    KeyHash(Sha256::digest(secret.as_bytes()).into())
}

/// Every permission a key can hold. Braze has many; sendid has one per operation it serves.
pub const KNOWN_PERMISSIONS: &[&str] =
    &[SENDS_ID_CREATE, CAMPAIGNS_TRIGGER_SEND, SENDS_DATA_SERIES];

/// A permission from [`KNOWN_PERMISSIONS`]: a typo such as `sends.id.creat` would otherwise
/// give a key that silently answers 403 forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission(&'static str);

impl Permission {
    pub fn parse(raw: &str) -> Result<Self, String> {
        KNOWN_PERMISSIONS
            .iter()
            .find(|known| **known == raw)
            .map(|known| Self(known))
            .ok_or_else(|| {
                format!(
                    "permissions: {raw:?} is not a known permission; known: {}",
                    KNOWN_PERMISSIONS.join(", ")
                )
            })
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

/// An entry of a key's allow-list: a CIDR block or a single address (host bits cleared).
pub fn parse_allowed_ip(raw: &str) -> Result<ipnet::IpNet, String> {
    raw.parse::<ipnet::IpNet>()
        .or_else(|_| raw.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| format!("allowed_ips: {raw:?} is not a CIDR block or IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_compare_by_value() {
        let key = ApiKey::generate();
        assert!(key.hash().ct_eq(&hash_secret(key.expose())));
        assert!(!key.hash().ct_eq(&hash_secret("something else")));
        assert_eq!(format!("{key:?}"), "ApiKey(***)");
    }

    #[test]
    fn given_keys() {
        assert!(ApiKey::parse("ci-key-0123456789abcdef01").is_ok());
        assert!(ApiKey::parse("short").is_err());
        assert!(ApiKey::parse("has a space in it, long enough").is_err());
    }

    #[test]
    fn permissions() {
        assert!(Permission::parse(SENDS_ID_CREATE).is_ok());
        assert!(Permission::parse("").is_err());
        assert!(Permission::parse("a b").is_err());
        let typo = Permission::parse("sends.id.creat").unwrap_err();
        assert!(
            typo.contains("known: sends.id.create, campaigns.trigger.send, sends.data_series"),
            "{typo}"
        );
        assert!(Permission::parse(CAMPAIGNS_TRIGGER_SEND).is_ok());
        assert!(Permission::parse(SENDS_DATA_SERIES).is_ok());
    }
}
