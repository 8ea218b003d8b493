//! World manufacturer identifiers: a selection of common WMIs with their manufacturer, and the ISO 3780
//! country and region ranges of positions 1–2. Facts gathered from the public sources `docs/vin.md` cites
//! (NHTSA's vPIC WMI data, ISO 3780 as summarised publicly); not exhaustive.

pub(super) struct Wmi {
    pub wmi: &'static str,
    pub manufacturer: &'static str,
    /// `None` where the WMI is shared by several brands.
    pub make: Option<&'static str>,
    /// Where it differs from what positions 1–2 say.
    pub country: Option<&'static str>,
}

const fn w(wmi: &'static str, manufacturer: &'static str, make: &'static str) -> Wmi {
    Wmi {
        wmi,
        manufacturer,
        make: Some(make),
        country: None,
    }
}

const fn shared(wmi: &'static str, manufacturer: &'static str) -> Wmi {
    Wmi {
        wmi,
        manufacturer,
        make: None,
        country: None,
    }
}

/// Grouped by position 1 in ISO 3780 order.
const TABLE: &[Wmi] = &[
    shared("1C3", "FCA US (Chrysler, Dodge)"),
    shared("1C4", "FCA US (Chrysler, Dodge, Jeep)"),
    w("1C6", "FCA US", "Ram"),
    w("1FA", "Ford Motor Company", "Ford"),
    w("1FB", "Ford Motor Company", "Ford"),
    w("1FC", "Ford Motor Company", "Ford"),
    w("1FD", "Ford Motor Company", "Ford"),
    w("1FM", "Ford Motor Company", "Ford"),
    w("1FT", "Ford Motor Company", "Ford"),
    w("1FU", "Freightliner", "Freightliner"),
    w("1FV", "Freightliner", "Freightliner"),
    w("1G1", "General Motors", "Chevrolet"),
    w("1G2", "General Motors", "Pontiac"),
    w("1G4", "General Motors", "Buick"),
    w("1G6", "General Motors", "Cadillac"),
    w("1GC", "General Motors", "Chevrolet"),
    w("1GK", "General Motors", "GMC"),
    w("1GN", "General Motors", "Chevrolet"),
    w("1GT", "General Motors", "GMC"),
    w("1GY", "General Motors", "Cadillac"),
    w("1HD", "Harley-Davidson", "Harley-Davidson"),
    w("1HG", "Honda", "Honda"),
    w("1J4", "Chrysler", "Jeep"),
    w("1LN", "Ford Motor Company", "Lincoln"),
    w("1N4", "Nissan", "Nissan"),
    w("1N6", "Nissan", "Nissan"),
    w("1VW", "Volkswagen", "Volkswagen"),
    w("1YV", "Mazda", "Mazda"),
    w("19U", "Honda", "Acura"),
    w("19X", "Honda", "Honda"),
    shared("2C3", "FCA Canada (Chrysler, Dodge)"),
    shared("2C4", "FCA Canada (Chrysler, Dodge)"),
    w("2FA", "Ford Motor Company", "Ford"),
    w("2FM", "Ford Motor Company", "Ford"),
    w("2FT", "Ford Motor Company", "Ford"),
    w("2G1", "General Motors", "Chevrolet"),
    w("2HG", "Honda", "Honda"),
    w("2HK", "Honda", "Honda"),
    w("2T1", "Toyota", "Toyota"),
    w("2T2", "Toyota", "Lexus"),
    w("2T3", "Toyota", "Toyota"),
    w("3C6", "FCA Mexico", "Ram"),
    w("3FA", "Ford Motor Company", "Ford"),
    w("3GC", "General Motors", "Chevrolet"),
    w("3GN", "General Motors", "Chevrolet"),
    w("3KP", "Kia", "Kia"),
    w("3MZ", "Mazda", "Mazda"),
    w("3N1", "Nissan", "Nissan"),
    w("3VW", "Volkswagen", "Volkswagen"),
    w("4JG", "Mercedes-Benz", "Mercedes-Benz"),
    w("4S3", "Subaru", "Subaru"),
    w("4S4", "Subaru", "Subaru"),
    w("4T1", "Toyota", "Toyota"),
    w("4T3", "Toyota", "Toyota"),
    w("4US", "BMW", "BMW"),
    w("5FN", "Honda", "Honda"),
    w("5J6", "Honda", "Honda"),
    w("5J8", "Honda", "Acura"),
    w("5LM", "Ford Motor Company", "Lincoln"),
    w("5N1", "Nissan", "Nissan"),
    w("5NM", "Hyundai", "Hyundai"),
    w("5NP", "Hyundai", "Hyundai"),
    w("5TD", "Toyota", "Toyota"),
    w("5TF", "Toyota", "Toyota"),
    w("5UX", "BMW", "BMW"),
    w("5XY", "Kia", "Kia"),
    w("5YJ", "Tesla", "Tesla"),
    Wmi {
        wmi: "7SA",
        manufacturer: "Tesla",
        make: Some("Tesla"),
        country: Some("United States"),
    },
    w("JA3", "Mitsubishi", "Mitsubishi"),
    w("JA4", "Mitsubishi", "Mitsubishi"),
    w("JF1", "Subaru", "Subaru"),
    w("JF2", "Subaru", "Subaru"),
    w("JH4", "Honda", "Acura"),
    w("JHM", "Honda", "Honda"),
    w("JM1", "Mazda", "Mazda"),
    w("JM3", "Mazda", "Mazda"),
    w("JN1", "Nissan", "Nissan"),
    w("JN8", "Nissan", "Nissan"),
    w("JNK", "Nissan", "Infiniti"),
    w("JTD", "Toyota", "Toyota"),
    w("JTE", "Toyota", "Toyota"),
    w("JTH", "Toyota", "Lexus"),
    w("JTJ", "Toyota", "Lexus"),
    w("JTM", "Toyota", "Toyota"),
    w("JTN", "Toyota", "Toyota"),
    w("KMH", "Hyundai", "Hyundai"),
    w("KNA", "Kia", "Kia"),
    w("KND", "Kia", "Kia"),
    w("SAJ", "Jaguar Land Rover", "Jaguar"),
    w("SAL", "Jaguar Land Rover", "Land Rover"),
    w("SCC", "Lotus", "Lotus"),
    w("SCF", "Aston Martin", "Aston Martin"),
    w("VF1", "Renault", "Renault"),
    w("VF3", "Peugeot", "Peugeot"),
    w("VF7", "Citroën", "Citroën"),
    w("WA1", "Audi", "Audi"),
    w("WAU", "Audi", "Audi"),
    w("WBA", "BMW", "BMW"),
    w("WBS", "BMW", "BMW"),
    w("WDB", "Mercedes-Benz", "Mercedes-Benz"),
    w("WDC", "Mercedes-Benz", "Mercedes-Benz"),
    w("WDD", "Mercedes-Benz", "Mercedes-Benz"),
    w("WMW", "BMW", "MINI"),
    w("WP0", "Porsche", "Porsche"),
    w("WP1", "Porsche", "Porsche"),
    w("WVG", "Volkswagen", "Volkswagen"),
    w("WVW", "Volkswagen", "Volkswagen"),
    w("YS3", "Saab", "Saab"),
    w("YV1", "Volvo Cars", "Volvo"),
    w("YV4", "Volvo Cars", "Volvo"),
    w("ZAR", "Alfa Romeo", "Alfa Romeo"),
    w("ZFA", "Fiat", "Fiat"),
    w("ZFF", "Ferrari", "Ferrari"),
    w("ZHW", "Lamborghini", "Lamborghini"),
];

/// The VIN alphabet in ISO 3780 order: the ranges below run through it (A…Z, then 1…9, 0).
const ORDER: &str = "ABCDEFGHJKLMNPRSTUVWXYZ1234567890";

/// (position 1, first and last position 2, country).
const COUNTRIES: &[(char, char, char, &str)] = &[
    ('1', 'A', '0', "United States"),
    ('4', 'A', '0', "United States"),
    ('5', 'A', '0', "United States"),
    ('2', 'A', '0', "Canada"),
    ('3', 'A', 'W', "Mexico"),
    ('6', 'A', 'W', "Australia"),
    ('8', 'A', 'E', "Argentina"),
    ('9', 'A', 'E', "Brazil"),
    ('9', '3', '9', "Brazil"),
    ('J', 'A', '0', "Japan"),
    ('K', 'L', 'R', "South Korea"),
    ('L', 'A', '0', "China"),
    ('M', 'A', 'E', "India"),
    ('M', 'F', 'K', "Indonesia"),
    ('M', 'L', 'R', "Thailand"),
    ('S', 'A', 'M', "United Kingdom"),
    ('S', 'N', 'T', "Germany"),
    ('S', 'U', 'Z', "Poland"),
    ('T', 'A', 'H', "Switzerland"),
    ('T', 'J', 'P', "Czech Republic"),
    ('T', 'R', 'V', "Hungary"),
    ('V', 'A', 'E', "Austria"),
    ('V', 'F', 'R', "France"),
    ('V', 'S', 'W', "Spain"),
    ('W', 'A', '0', "Germany"),
    ('X', 'L', 'R', "Netherlands"),
    ('Y', 'A', 'E', "Belgium"),
    ('Y', 'F', 'K', "Finland"),
    ('Y', 'S', 'W', "Sweden"),
    ('Z', 'A', 'R', "Italy"),
];

pub(super) fn lookup(wmi: &str) -> Option<&'static Wmi> {
    TABLE.iter().find(|e| e.wmi == wmi)
}

pub(super) fn country(first: char, second: char) -> Option<&'static str> {
    let at = ORDER.find(second)?;
    COUNTRIES
        .iter()
        .find(|(p1, from, to, _)| {
            *p1 == first
                && ORDER.find(*from).is_some_and(|f| f <= at)
                && ORDER.find(*to).is_some_and(|t| at <= t)
        })
        .map(|(.., name)| *name)
}

/// ISO 3780 regions of position 1.
pub(super) fn region(first: char) -> Option<&'static str> {
    Some(match first {
        'A'..='H' => "Africa",
        'J'..='R' => "Asia",
        'S'..='Z' => "Europe",
        '1'..='5' => "North America",
        '6' | '7' => "Oceania",
        '8' | '9' | '0' => "South America",
        _ => return None,
    })
}

#[cfg(test)]
pub(super) fn check_table() {
    let mut seen = std::collections::BTreeSet::new();
    for e in TABLE {
        assert!(seen.insert(e.wmi), "{} twice", e.wmi);
    }
    for e in TABLE {
        assert_eq!(e.wmi.len(), 3, "{}", e.wmi);
        assert!(
            e.wmi.chars().all(|c| ORDER.contains(c)),
            "{} has a character no VIN uses",
            e.wmi
        );
    }
    assert_eq!(country('3', 'C'), Some("Mexico"));
    assert_eq!(country('K', 'M'), Some("South Korea"));
    assert_eq!(country('K', 'A'), None);
}
