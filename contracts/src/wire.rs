//! Names of unit-like enums on the wire and in stores. Each such enum derives its string mapping
//! (`strum`'s `IntoStaticStr`/`EnumString`, `as_str()` and `parse()`) next to its serde names; [`check_names`]
//! proves the two agree, variant by variant, so a stored `due_soon` and a published `"due_soon"` are one name.

use std::fmt::Debug;
use std::str::FromStr;

use serde::Serialize;

#[doc(hidden)]
pub use pastey::paste;

/// Declares a unit-like enum that travels as a string, on the wire (serde) and in stores (strum's
/// `IntoStaticStr`/`EnumString`, `as_str()`, `parse()` and `Display`; `ALL` lists the variants), under one
/// naming rule: `snake_case` unless the name is followed by `as "lowercase"` (any serde/strum rule). It derives
/// `Debug, Clone, Copy, PartialEq, Eq, Hash` and `strum::VariantArray`, and writes a unit test into the
/// crate that declares it (`<enum>_names_are_one_on_the_wire_and_in_stores`) running [`check_names`] on it,
/// so no enum goes unchecked. More derives — the contracts' `JsonSchema, ToSchema` among them — go in an
/// attribute of their own:
///
/// ```
/// vwc_contracts::wire_enum! {
///     /// How a reading was taken.
///     #[derive(Default, PartialOrd, Ord, schemars::JsonSchema)]
///     pub enum Reading as "lowercase" {
///         #[default]
///         Manual,
///         Telematics,
///     }
/// }
/// assert_eq!(Reading::Telematics.as_str(), "telematics");
/// assert_eq!("manual".parse::<Reading>().ok(), Some(Reading::Manual));
/// assert_eq!(Reading::parse("Manual"), None);
/// assert_eq!(Reading::ALL, [Reading::Manual, Reading::Telematics]);
/// assert_eq!(format!("taken by {}", Reading::Telematics), "taken by telematics");
/// vwc_contracts::wire::check_names::<Reading>();
/// ```
///
/// A crate using it outside `vwc-contracts` depends on `serde` and `strum`, whose derives it expands to.
#[macro_export]
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $case:tt { $($variants:tt)* }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            ::serde::Serialize,
            ::serde::Deserialize,
            ::strum::IntoStaticStr,
            ::strum::EnumString,
            ::strum::VariantArray,
        )]
        #[serde(rename_all = $case)]
        #[strum(serialize_all = $case)]
        $vis enum $name { $($variants)* }

        // Not every enum uses all three.
        #[allow(dead_code)]
        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = <$name as ::strum::VariantArray>::VARIANTS;

            /// The name on the wire and in stores.
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// The variant whose wire name is `name`; anything else (another case, an unknown name) is
            /// `None`.
            pub fn parse(name: &str) -> Option<$name> {
                name.parse().ok()
            }
        }

        /// The wire name.
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $crate::wire::paste! {
            #[cfg(test)]
            #[test]
            fn [<$name:snake _names_are_one_on_the_wire_and_in_stores>]() {
                $crate::wire::check_names::<$name>();
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($variants:tt)* }
    ) => {
        $crate::wire_enum! { $(#[$meta])* $vis enum $name as "snake_case" { $($variants)* } }
    };
}

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
