//! Names of unit-like enums on the wire and in stores. Each such enum derives its string mapping
//! (`strum`'s `IntoStaticStr`/`EnumString`, `as_str()` and `parse()`) next to its serde names; [`check_names`]
//! proves the two agree, variant by variant, so a stored `due_soon` and a published `"due_soon"` are one name.

use std::fmt::Debug;
use std::str::FromStr;

use serde::Serialize;

/// Panics, naming the variant, unless every variant of `T` round-trips through its derived name and that
/// name is what serde writes.
pub fn check_names<T>()
where
    T: strum::VariantArray + Serialize + FromStr + Copy + PartialEq + Debug + Into<&'static str>,
{
    assert!(!T::VARIANTS.is_empty());
    for v in T::VARIANTS {
        let name: &'static str = (*v).into();
        assert_eq!(
            serde_json::to_value(v).expect("a unit variant serialises"),
            serde_json::Value::String(name.to_string()),
            "{v:?}: serde and the derived name disagree"
        );
        assert!(
            name.parse::<T>().ok() == Some(*v),
            "{v:?}: {name:?} does not parse back"
        );
    }
    assert!("no_such_name".parse::<T>().is_err());
}

#[cfg(test)]
mod tests {
    use super::check_names;
    use crate::OdometerUnit;
    use crate::maintenance::{Channel, MaintenanceStatus};
    use crate::valuation::FactorCode;

    #[test]
    fn derived_names_are_the_serde_names() {
        check_names::<MaintenanceStatus>();
        check_names::<Channel>();
        check_names::<OdometerUnit>();
        check_names::<FactorCode>();
        check_names::<crate::EventKind>();
    }
}
