//! Release identifiers: ISRC (ISO 3901) and UPC-A / EAN-13 barcodes.

/// Checks an ISRC (`CC-XXX-YY-NNNNN`, hyphens optional) and returns it
/// normalised to 12 upper-case characters, or says what is wrong.
pub fn normalise_isrc(text: &str) -> Result<String, String> {
    let compact: String = text
        .chars()
        .filter(|c| *c != '-')
        .collect::<String>()
        .to_uppercase();
    if compact.len() != 12 || !compact.is_ascii() {
        return Err(format!(
            "an ISRC has 12 characters (CC-XXX-YY-NNNNN), this has {}",
            compact.chars().count()
        ));
    }
    let (country, rest) = compact.split_at(2);
    let (registrant, rest) = rest.split_at(3);
    let (year, designation) = rest.split_at(2);
    if !country.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(format!("the country code `{country}` must be two letters"));
    }
    if !registrant.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "the registrant code `{registrant}` must be three letters or digits"
        ));
    }
    if !year.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("the year `{year}` must be two digits"));
    }
    if !designation.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "the designation code `{designation}` must be five digits"
        ));
    }
    Ok(compact)
}

/// Checks a UPC-A (12 digits) or EAN-13 (13 digits) and its check digit.
pub fn check_upc(text: &str) -> Result<(), String> {
    if !text.chars().all(|c| c.is_ascii_digit()) {
        return Err("a UPC/EAN has digits only".into());
    }
    if text.len() != 12 && text.len() != 13 {
        return Err(format!(
            "a UPC-A has 12 digits and an EAN-13 has 13; this has {}",
            text.len()
        ));
    }
    let digits: Vec<u32> = text.bytes().map(|b| (b - b'0') as u32).collect();
    let (body, check) = digits.split_at(digits.len() - 1);
    // GTIN: weights 3, 1, 3, … from the digit next to the check digit.
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    let expected = (10 - sum % 10) % 10;
    if expected != check[0] {
        return Err(format!(
            "the check digit is {}, but the other digits give {expected}",
            check[0]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isrcs_normalise_and_explain() {
        assert_eq!(normalise_isrc("GB-XYZ-26-00001").unwrap(), "GBXYZ2600001");
        assert_eq!(normalise_isrc("gbxyz2600002").unwrap(), "GBXYZ2600002");
        assert!(normalise_isrc("GB-XYZ-26-0001")
            .unwrap_err()
            .contains("12 characters"));
        assert!(normalise_isrc("G1-XYZ-26-00001")
            .unwrap_err()
            .contains("country"));
        assert!(normalise_isrc("GB-XYZ-2A-00001")
            .unwrap_err()
            .contains("year"));
    }

    #[test]
    fn barcodes_check_their_digit() {
        assert!(check_upc("5012345678900").is_ok());
        assert!(check_upc("036000291452").is_ok());
        assert!(check_upc("036000291453")
            .unwrap_err()
            .contains("check digit"));
        assert!(check_upc("12345").unwrap_err().contains("12 digits"));
        assert!(check_upc("50123456789OO")
            .unwrap_err()
            .contains("digits only"));
    }
}
