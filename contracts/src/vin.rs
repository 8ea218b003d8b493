//! Offline VIN decoding: the ISO 3779 structure (WMI, VDS, VIS), the North American check digit and model
//! year (49 CFR Part 565), and the manufacturer and country from the WMI. Sources: `docs/vin.md`.

mod wmi;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::vehicle::check_vin;

/// What a VIN says about its vehicle, decoded without any network call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"vin": "1HGCM82633A004352", "wmi": "1HG", "vds": "CM8263", "vis": "3A004352",
    "manufacturer": "Honda", "make": "Honda", "country": "United States", "region": "North America",
    "northAmerican": true, "checkDigit": {"actual": "3", "expected": "3", "valid": true, "required": true},
    "modelYear": 2003, "modelYearCandidates": [2003, 2033], "modelYearBasis": "position_7",
    "plantCode": "A", "serialNumber": "004352"}))]
pub struct VinDecoding {
    /// The VIN, upper case.
    pub vin: String,
    /// World manufacturer identifier: positions 1–3.
    pub wmi: String,
    /// Vehicle descriptor section: positions 4–9.
    pub vds: String,
    /// Vehicle identifier section: positions 10–17.
    pub vis: String,
    /// The manufacturer the WMI is assigned to, when the built-in table knows it.
    pub manufacturer: Option<String>,
    /// The brand a registration may take as `make`: absent when the WMI is shared by several brands.
    pub make: Option<String>,
    /// Where the WMI says the vehicle was made (ISO 3780 country codes, positions 1–2).
    pub country: Option<String>,
    /// The continent of position 1.
    pub region: Option<String>,
    /// Position 1 is 1–5: made in North America, where the check digit is mandatory.
    pub north_american: bool,
    pub check_digit: CheckDigit,
    /// The model year position 10 encodes, disambiguated (see `modelYearBasis`); absent when position 10
    /// is not a year code or no candidate is plausible.
    pub model_year: Option<u16>,
    /// Every year position 10 can mean (the code repeats every 30 years), up to two years from now.
    pub model_year_candidates: Vec<u16>,
    pub model_year_basis: ModelYearBasis,
    /// Position 11: the assembly plant, in the manufacturer's own code.
    pub plant_code: String,
    /// Positions 12–17.
    pub serial_number: String,
}

/// Position 9 against the check digit computed from the other sixteen positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckDigit {
    /// Position 9 as written.
    pub actual: String,
    /// What position 9 must be: `0`–`9` or `X`.
    pub expected: String,
    pub valid: bool,
    /// Whether the check digit is mandatory for this VIN (North American VINs).
    pub required: bool,
}

/// How `modelYear` was chosen among the candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelYearBasis {
    /// 49 CFR 565.15: in a North American VIN (passenger cars, MPVs, light trucks) a letter in position 7
    /// means 2010–2039 and a digit means 1980–2009.
    #[serde(rename = "position_7")]
    Position7,
    /// Outside North America the standard does not fix the cycle: the most recent candidate not more than
    /// two years ahead.
    MostRecent,
    /// Position 10 is not a model-year code (`0`, `U`, `Z`), or no candidate is plausible.
    Unknown,
}

/// The transliteration of 49 CFR 565.15(c): letters to 1–9, digits to themselves; `None` for I, O, Q and
/// anything that is not an ASCII letter or digit.
fn transliterate(c: char) -> Option<u32> {
    Some(match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A' | 'J' => 1,
        'B' | 'K' | 'S' => 2,
        'C' | 'L' | 'T' => 3,
        'D' | 'M' | 'U' => 4,
        'E' | 'N' | 'V' => 5,
        'F' | 'W' => 6,
        'G' | 'P' | 'X' => 7,
        'H' | 'Y' => 8,
        'R' | 'Z' => 9,
        _ => return None,
    })
}

/// Weights of positions 1–17; position 9 (the check digit itself) weighs nothing.
const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];

/// The check digit of a 17-character VIN (`0`–`9`, or `X` for a remainder of 10); `None` when a character
/// has no transliteration.
pub fn check_digit(vin: &str) -> Option<char> {
    if vin.chars().count() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, w) in vin.chars().zip(WEIGHTS) {
        sum += transliterate(c.to_ascii_uppercase())? * w;
    }
    Some(match sum % 11 {
        10 => 'X',
        r => char::from_digit(r, 10).expect("a remainder below 10 is a digit"),
    })
}

/// Position 1 is 1–5: the United States, Canada or Mexico.
pub fn is_north_american(vin: &str) -> bool {
    matches!(vin.chars().next(), Some('1'..='5'))
}

/// The first model year (1980–2009) a position-10 code stands for; the code repeats every 30 years.
fn model_year_base(code: char) -> Option<u16> {
    const LETTERS: &str = "ABCDEFGHJKLMNPRSTVWXY";
    if let Some(i) = LETTERS.find(code) {
        return Some(1980 + i as u16);
    }
    match code {
        '1'..='9' => Some(2000 + (code as u16 - '0' as u16)),
        _ => None,
    }
}

/// Every year `code` can mean, from 1980 up to `latest`.
pub fn model_year_candidates(code: char, latest: u16) -> Vec<u16> {
    let Some(base) = model_year_base(code) else {
        return Vec::new();
    };
    (0..)
        .map(|cycle| base + 30 * cycle)
        .take_while(|y| *y <= latest)
        .collect()
}

/// Decodes a VIN; `current_year` bounds the model year (at most two years ahead). Errors are the format
/// problems of [`check_vin`].
pub fn decode(vin: &str, current_year: u16) -> Result<VinDecoding, String> {
    let vin = vin.trim().to_ascii_uppercase();
    check_vin(&vin)?;
    let chars: Vec<char> = vin.chars().collect();
    let north_american = is_north_american(&vin);
    let expected = check_digit(&vin).expect("a well-formed VIN transliterates");
    let latest = current_year.saturating_add(2);
    let candidates = model_year_candidates(chars[9], latest);
    let (model_year, basis) = if candidates.is_empty() {
        (None, ModelYearBasis::Unknown)
    } else if north_american {
        // A letter in position 7 means 2010–2039; a digit 1980–2009.
        let range = if chars[6].is_ascii_alphabetic() {
            2010..=2039
        } else {
            1980..=2009
        };
        match candidates.iter().copied().find(|y| range.contains(y)) {
            Some(y) => (Some(y), ModelYearBasis::Position7),
            None => (None, ModelYearBasis::Unknown),
        }
    } else {
        (candidates.last().copied(), ModelYearBasis::MostRecent)
    };
    let entry = wmi::lookup(&vin[..3]);
    Ok(VinDecoding {
        wmi: vin[..3].to_string(),
        vds: vin[3..9].to_string(),
        vis: vin[9..].to_string(),
        manufacturer: entry.map(|e| e.manufacturer.to_string()),
        make: entry.and_then(|e| e.make).map(str::to_string),
        country: entry
            .and_then(|e| e.country)
            .or_else(|| wmi::country(chars[0], chars[1]))
            .map(str::to_string),
        region: wmi::region(chars[0]).map(str::to_string),
        north_american,
        check_digit: CheckDigit {
            actual: chars[8].to_string(),
            expected: expected.to_string(),
            valid: chars[8] == expected,
            required: north_american,
        },
        model_year,
        model_year_candidates: candidates,
        model_year_basis: basis,
        plant_code: chars[10].to_string(),
        serial_number: vin[11..].to_string(),
        vin,
    })
}

crate::wire_enum! {
    /// `"vinCheck"` of a registration: `skip` accepts a North American VIN whose check digit does not match
    /// (a misprinted plate, a grey import).
    #[derive(Default, JsonSchema, ToSchema)]
    pub enum VinCheck {
        #[default]
        Verify,
        Skip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digit_of_a_known_honda_vin() {
        // 1HGCM82633A004352: transliterated 1 8 7 3 4 8 2 6 (3) 3 1 0 0 4 3 5 2
        // × weights 8 7 6 5 4 3 2 10 0 9 8 7 6 5 4 3 2
        // = 8+56+42+15+16+24+4+60+0+27+8+0+0+20+12+15+4 = 311; 311 mod 11 = 3 → position 9 holds 3.
        assert_eq!(check_digit("1HGCM82633A004352"), Some('3'));
        let d = decode("1hgcm82633a004352", 2026).unwrap();
        assert!(d.check_digit.valid && d.check_digit.required);
        // Position 7 is a digit (2): 1980–2009, so 3 means 2003, not 2033.
        assert_eq!(d.model_year, Some(2003));
        assert_eq!(d.model_year_candidates, vec![2003]);
        assert_eq!(d.make.as_deref(), Some("Honda"));
        assert_eq!(d.country.as_deref(), Some("United States"));
    }

    #[test]
    fn remainder_ten_is_x() {
        // 1FTBR2C8?LKA22222: transliterated 1 6 3 2 9 2 3 8 (?) 3 2 1 2 2 2 2 2
        // = 8+42+18+10+36+6+6+80+0+27+16+7+12+10+8+6+4 = 296; 296 mod 11 = 10 → X.
        assert_eq!(check_digit("1FTBR2C8XLKA22222"), Some('X'));
        assert!(decode("1FTBR2C8XLKA22222", 2026).unwrap().check_digit.valid);
    }

    #[test]
    fn position_seven_picks_the_cycle() {
        // 19XFC2F56NE012345: position 7 is F (a letter) → 2010–2039, N → 2022 (not 1992).
        let d = decode("19XFC2F56NE012345", 2026).unwrap();
        assert_eq!(d.model_year, Some(2022));
        assert_eq!(d.model_year_basis, ModelYearBasis::Position7);
        assert_eq!(d.model_year_candidates, vec![1992, 2022]);
    }

    #[test]
    fn outside_north_america_the_most_recent_year_is_taken() {
        let d = decode("WVWZZZAUZHP123456", 2026).unwrap();
        assert!(!d.north_american && !d.check_digit.required);
        assert_eq!(d.model_year, Some(2017));
        assert_eq!(d.model_year_basis, ModelYearBasis::MostRecent);
        assert_eq!(d.country.as_deref(), Some("Germany"));
        assert_eq!(d.make.as_deref(), Some("Volkswagen"));
    }

    #[test]
    fn zero_u_and_z_are_not_year_codes() {
        for code in ['0', 'U', 'Z'] {
            assert!(model_year_candidates(code, 2028).is_empty(), "{code}");
        }
        assert_eq!(model_year_candidates('A', 2028), vec![1980, 2010]);
        assert_eq!(model_year_candidates('Y', 2028), vec![2000]);
    }

    #[test]
    fn malformed_vins_are_refused() {
        assert!(decode("1HGCM82633A00435", 2026).is_err());
        assert!(decode("1HGCM82633A00435I", 2026).is_err());
    }

    #[test]
    fn every_table_wmi_is_three_valid_characters() {
        wmi::check_table();
    }
}
