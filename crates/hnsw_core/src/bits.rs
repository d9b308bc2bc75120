//! Bit strings (Postgres' `bit`): binary quantization and the slot form the index and the
//! distance kernels take (32 bits to a float32 slot as its bit pattern; see `element`).

/// The bits of `bytes` (a `bit` value's data, first bit in the high bit of byte 0), 32 to
/// a slot. Hamming and Jaccard distances only count bits, so any fixed packing serves;
/// the bits past the string's length are zero in every value, as Postgres keeps them.
pub fn to_slots(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut word = [0u8; 4];
            word[..c.len()].copy_from_slice(c);
            f32::from_bits(u32::from_le_bytes(word))
        })
        .collect()
}

/// `binary_quantize`: one bit per element, set where the element is greater than zero,
/// packed as a `bit` value's data.
pub fn quantize(values: &[f32]) -> Vec<u8> {
    let mut bytes = vec![0u8; values.len().div_ceil(8)];
    for (i, &x) in values.iter().enumerate() {
        if x > 0.0 {
            bytes[i / 8] |= 0x80 >> (i % 8);
        }
    }
    bytes
}
