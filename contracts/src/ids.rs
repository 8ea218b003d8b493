//! Resource ids: a short type prefix and a UUID v7, so ids sort by creation time and say what they name.
//! Each kind of id is its own type (serialised as the plain string it always was), so a vehicle id cannot
//! be passed where an organisation id is expected.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::now_v7().simple())
}

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> $name {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> $name {
                $name(id.to_string())
            }
        }

        impl From<&String> for $name {
            fn from(id: &String) -> $name {
                $name(id.clone())
            }
        }

        impl From<&$name> for $name {
            fn from(id: &$name) -> $name {
                id.clone()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                **self == other.0
            }
        }

        #[cfg(feature = "rusqlite")]
        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }

        #[cfg(feature = "rusqlite")]
        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<$name> {
                String::column_result(value).map($name)
            }
        }

        #[cfg(feature = "bson")]
        impl From<$name> for bson::Bson {
            fn from(id: $name) -> bson::Bson {
                bson::Bson::String(id.0)
            }
        }

        /// A plain string in every schema, as it always was on the wire.
        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> Cow<'static, str> {
                String::schema_name()
            }

            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                String::json_schema(generator)
            }
        }
    )+};
}

ids! {
    /// An organisation (a tenant). Comes only from the caller's token.
    OrgId;
    /// A vehicle: `veh_…`.
    VehicleId;
    /// A timeline event: `evt_…`.
    EventId;
    /// A dealer integration: `dlr_…`.
    DealerId;
}

impl VehicleId {
    pub fn generate() -> VehicleId {
        VehicleId(new_id("veh"))
    }
}

impl EventId {
    pub fn generate() -> EventId {
        EventId(new_id("evt"))
    }
}

impl DealerId {
    pub fn generate() -> DealerId {
        DealerId(new_id("dlr"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_the_plain_string_on_the_wire_and_in_schemas() {
        let id = VehicleId::from("veh_1");
        assert_eq!(serde_json::to_value(&id).unwrap(), "veh_1");
        assert_eq!(
            serde_json::from_value::<VehicleId>("veh_1".into()).unwrap(),
            id
        );
        assert_eq!(
            serde_json::to_value(schemars::schema_for!(OrgId)).unwrap()["type"],
            "string"
        );
    }

    #[test]
    fn generated_ids_carry_their_prefix_and_sort_by_creation() {
        let (a, b) = (EventId::generate(), EventId::generate());
        assert!(a.starts_with("evt_") && a < b, "{a} {b}");
        assert!(VehicleId::generate().starts_with("veh_"));
        assert!(DealerId::generate().starts_with("dlr_"));
    }
}
