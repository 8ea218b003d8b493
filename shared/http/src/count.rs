//! A count a query gives as text (`limit=50`, `months=12`).

/// `default` when the query leaves it out; else an integer from 1 to `max`, or the message a 422 names the
/// parameter with ("must be an integer from 1 to 200").
pub fn count_param<T>(raw: Option<&str>, default: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + From<u8> + std::fmt::Display + Copy,
{
    let Some(raw) = raw else {
        return Ok(default);
    };
    raw.parse::<T>()
        .ok()
        .filter(|n| *n >= T::from(1) && *n <= max)
        .ok_or_else(|| format!("must be an integer from 1 to {max}"))
}

#[cfg(test)]
mod tests {
    use super::count_param;

    #[test]
    fn a_count_is_its_default_when_absent_and_bounded_otherwise() {
        assert_eq!(count_param::<usize>(None, 50, 200), Ok(50));
        assert_eq!(count_param::<usize>(Some("1"), 50, 200), Ok(1));
        assert_eq!(count_param::<usize>(Some("200"), 50, 200), Ok(200));
        for bad in ["0", "201", "ten", "", "-1", "1.5"] {
            assert_eq!(
                count_param::<usize>(Some(bad), 50, 200),
                Err("must be an integer from 1 to 200".to_string()),
                "{bad}"
            );
        }
        assert_eq!(count_param::<u32>(Some("12"), 6, 24), Ok(12));
    }
}
