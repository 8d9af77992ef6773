//! Money as whole hundredths of a currency's unit (分 for 元, cents for dollars): sums and
//! comparisons are exact, where adding floating-point amounts needs a tolerance.

use std::fmt;

/// An amount in hundredths of its currency's unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(pub i64);

impl Money {
    /// An amount written in the currency's unit (`9.9` yuan is 990 fen), rounded to the
    /// nearest hundredth, as written in JSON or YAML. `None` for what is not a finite amount
    /// a person could pay (beyond ±10¹⁵ units).
    pub fn from_units(units: f64) -> Option<Money> {
        let hundredths = (units * 100.0).round();
        (hundredths.is_finite() && hundredths.abs() < 1e17).then_some(Money(hundredths as i64))
    }

    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let n = self.0.unsigned_abs();
        match n % 100 {
            0 => write!(f, "{sign}{}", n / 100),
            c => write!(f, "{sign}{}.{:02}", n / 100, c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn amounts_that_floats_add_wrongly_add_exactly() {
        // 0.1 + 0.2 != 0.3 in floating point.
        let sum = Money::from_units(0.1)
            .unwrap()
            .saturating_add(Money::from_units(0.2).unwrap());
        assert_eq!(sum, Money::from_units(0.3).unwrap());
        assert_eq!(Money::from_units(9.9), Some(Money(990)));
        assert_eq!(Money::from_units(f64::NAN), None);
        assert_eq!(Money::from_units(1e300), None);
        assert_eq!(Money(990).to_string(), "9.90");
        assert_eq!(Money(-5).to_string(), "-0.05");
        assert_eq!(Money(19900).to_string(), "199");
    }

    proptest! {
        #[test]
        fn ten_payments_of_a_price_meet_ten_times_the_price(fen in 1i64..10_000_000) {
            let price = fen as f64 / 100.0;
            let mut paid = Money::default();
            for _ in 0..10 {
                paid = paid.saturating_add(Money::from_units(price).unwrap());
            }
            prop_assert!(paid >= Money::from_units(price * 10.0).unwrap());
            prop_assert_eq!(paid, Money(fen * 10));
        }
    }
}
