//! Compact JSON written into a byte buffer, byte for byte what `serde_json::to_writer` writes, with a faster
//! path for strings. serde_json looks up every byte of every string (keys included) in its escape table, a
//! byte at a time: ≈ 5 % of a first maintenance sweep's CPU, whose outbox rows are 300 MB of envelope JSON
//! (docs/bench.md, "Stop 54"). Here a string is first checked for anything to escape in one pass the
//! compiler vectorises, and a string without any (nearly all: ids, codes, dates, titles) is copied whole.
//!
//! Everything else follows serde_json's compact form: integers as `itoa` writes them, finite floats as
//! `zmij` writes them and the others as `null`, bytes as an array of numbers, map keys that are strings,
//! integers, floats, booleans or chars (the last four quoted), and serde_json's error for any other key. The
//! tests compare both writers on every example event and on arbitrary JSON values and strings.

use std::fmt::Display;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// What [`to_writer`] could not write: a map key that is not a string (as serde_json refuses it), or an
/// error a `Serialize` implementation raised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Error {
        Error(msg.to_string())
    }
}

/// Appends `value`'s compact JSON to `out`. On an error `out` may hold part of it.
pub fn to_writer<T: ?Sized + Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), Error> {
    value.serialize(&mut Writer { out })
}

/// Writes `value`'s compact JSON into a buffer this thread keeps and hands it to `read`: no allocation per
/// value once the buffer has grown (the outbox copies it once into a shared string of its size; the relay only
/// measures it). A buffer grown past 64 KiB by an unusually large value is not kept. `read` must not call
/// `with_written` itself (the buffer is in use).
pub fn with_written<T: ?Sized + Serialize, R>(
    value: &T,
    read: impl FnOnce(&[u8]) -> R,
) -> Result<R, Error> {
    const KEPT: usize = 64 * 1024;
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        let read = to_writer(buffer, value).map(|()| read(buffer));
        if buffer.capacity() > KEPT {
            *buffer = Vec::new();
        }
        read
    })
}

/// Whether `bytes` holds nothing JSON must escape: no control character, quote or backslash. Eight bytes
/// at a time as one word (most strings are ids, codes and dates of 10–40 bytes), the rest one by one.
fn nothing_to_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = ONES << 7;
    /// Whether a byte of `word` is below `n` (≤ 128): exact for the word as a whole, since a borrow only
    /// starts at a byte that is below `n`.
    fn any_below(word: u64, n: u8) -> u64 {
        word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
    }
    fn any_equal(word: u64, b: u8) -> u64 {
        any_below(word ^ (ONES * u64::from(b)), 1)
    }
    let mut words = bytes.chunks_exact(8);
    let mut flagged = 0;
    for chunk in &mut words {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        flagged |= any_below(word, 0x20) | any_equal(word, b'"') | any_equal(word, b'\\');
    }
    flagged == 0
        && words
            .remainder()
            .iter()
            .all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

/// Writes `s` as a JSON string, escaped as serde_json escapes it: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, and
/// `\u00xx` (lower-case hex) for the other control characters; everything else as it is.
fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if nothing_to_escape(bytes) {
        out.extend_from_slice(bytes);
    } else {
        let mut run = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let short = match b {
                b'"' => b'"',
                b'\\' => b'\\',
                0x08 => b'b',
                0x0C => b'f',
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                0x00..=0x1F => b'u',
                _ => continue,
            };
            out.extend_from_slice(&bytes[run..i]);
            run = i + 1;
            if short == b'u' {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xF)]);
            } else {
                out.push(b'\\');
                out.push(short);
            }
        }
        out.extend_from_slice(&bytes[run..]);
    }
    out.push(b'"');
}

fn write_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn write_float(out: &mut Vec<u8>, n: impl zmij::Float) {
    out.extend_from_slice(zmij::Buffer::new().format_finite(n).as_bytes());
}

/// The ten integer methods of a `Serializer`, each `|serializer, value| body`.
macro_rules! integers {
    (|$ser:ident, $v:ident| $body:expr) => {
        integers!(@each |$ser, $v| $body;
            serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
            serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
            serialize_u64: u64, serialize_u128: u128);
    };
    (@each |$ser:ident, $v:ident| $body:expr; $($method:ident: $t:ty),*) => {
        $(fn $method(self, $v: $t) -> Result<(), Error> {
            let $ser = self;
            $body
        })*
    };
}

/// The four sequence-like compounds (`SerializeSeq`, …), whose elements are written alike.
macro_rules! sequences {
    ($($trait:ident::$method:ident),*) => {
        $(impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }
            fn end(self) -> Result<(), Error> {
                self.close()
            }
        })*
    };
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

/// A sequence, map or struct being written: `first` until its first element, then a comma before each;
/// `close` ends it (`]` or `}`, and a second `}` for an enum variant's `{"variant": …}`).
pub struct Compound<'w, 'a> {
    writer: &'w mut Writer<'a>,
    first: bool,
    close: &'static [u8],
}

impl<'w, 'a> Compound<'w, 'a> {
    fn open(writer: &'w mut Writer<'a>, open: &[u8], close: &'static [u8]) -> Self {
        writer.out.extend_from_slice(open);
        Compound {
            writer,
            first: true,
            close,
        }
    }

    fn comma(&mut self) {
        if !self.first {
            self.writer.out.push(b',');
        }
        self.first = false;
    }

    fn element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.comma();
        value.serialize(&mut *self.writer)
    }

    fn field<T: ?Sized + Serialize>(&mut self, key: &str, value: &T) -> Result<(), Error> {
        self.comma();
        write_str(self.writer.out, key);
        self.writer.out.push(b':');
        value.serialize(&mut *self.writer)
    }

    fn close(self) -> Result<(), Error> {
        self.writer.out.extend_from_slice(self.close);
        Ok(())
    }
}

/// `{"variant":` before a variant's content.
fn variant_open(variant: &str, open: u8) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(variant.len() + 5);
    bytes.push(b'{');
    write_str(&mut bytes, variant);
    bytes.push(b':');
    bytes.push(open);
    bytes
}

impl<'w, 'a> ser::Serializer for &'w mut Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'w, 'a>;
    type SerializeTuple = Compound<'w, 'a>;
    type SerializeTupleStruct = Compound<'w, 'a>;
    type SerializeTupleVariant = Compound<'w, 'a>;
    type SerializeMap = Compound<'w, 'a>;
    type SerializeStruct = Compound<'w, 'a>;
    type SerializeStructVariant = Compound<'w, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    integers!(|w, v| {
        write_int(w.out, v);
        Ok(())
    });
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        if v.is_finite() {
            write_float(self.out, v);
        } else {
            self.out.extend_from_slice(b"null");
        }
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if v.is_finite() {
            write_float(self.out, v);
        } else {
            self.out.extend_from_slice(b"null");
        }
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0u8; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let mut seq = Compound::open(self, b"[", b"]");
        for b in v {
            seq.comma();
            write_int(seq.writer.out, *b);
        }
        seq.close()
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'w, 'a>, Error> {
        Ok(Compound::open(self, b"[", b"]"))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        Ok(Compound::open(self, &variant_open(variant, b'['), b"]}"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'w, 'a>, Error> {
        Ok(Compound::open(self, b"{", b"}"))
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Compound<'w, 'a>, Error> {
        // serde_json's `RawValue` and arbitrary-precision `Number` pass their text through a struct of
        // this name, which only serde_json's own writer understands; no contract holds either.
        if name.starts_with("$serde_json::private::") {
            return Err(Error(format!("{name} is written by serde_json only")));
        }
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        Ok(Compound::open(self, &variant_open(variant, b'{'), b"}}"))
    }
    fn collect_str<T: ?Sized + Display>(self, value: &T) -> Result<(), Error> {
        self.serialize_str(&value.to_string())
    }
}

sequences!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        key.serialize(MapKey(self.writer.out))
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Error> {
        self.writer.out.push(b':');
        value.serialize(&mut *self.writer)
    }
    fn end(self) -> Result<(), Error> {
        self.close()
    }
}

/// The two struct-like compounds, whose fields are written alike.
macro_rules! structs {
    ($($trait:ident),*) => {
        $(impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: ?Sized + Serialize>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Error> {
                self.field(key, value)
            }
            fn end(self) -> Result<(), Error> {
                self.close()
            }
        })*
    };
}

structs!(SerializeStruct, SerializeStructVariant);

/// A map's key: a string as it is; an integer, a finite float, a boolean in quotes; anything else refused,
/// as serde_json refuses it (with its words).
struct MapKey<'a>(&'a mut Vec<u8>);

fn key_must_be_a_string() -> Error {
    Error("key must be a string".into())
}

impl MapKey<'_> {
    fn quoted(self, write: impl FnOnce(&mut Vec<u8>)) -> Result<(), Error> {
        self.0.push(b'"');
        write(self.0);
        self.0.push(b'"');
        Ok(())
    }
}

impl ser::Serializer for MapKey<'_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Impossible<(), Error>;
    type SerializeTuple = Impossible<(), Error>;
    type SerializeTupleStruct = Impossible<(), Error>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.0, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0u8; 4]))
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }
    fn collect_str<T: ?Sized + Display>(self, value: &T) -> Result<(), Error> {
        self.serialize_str(&value.to_string())
    }
    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.quoted(|out| out.extend_from_slice(if v { b"true" } else { b"false" }))
    }
    integers!(|key, v| key.quoted(|out| write_int(out, v)));
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        if !v.is_finite() {
            return Err(Error("float key must be finite (got NaN or +/-inf)".into()));
        }
        self.quoted(|out| write_float(out, v))
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if !v.is_finite() {
            return Err(Error("float key must be finite (got NaN or +/-inf)".into()));
        }
        self.quoted(|out| write_float(out, v))
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_none(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit(self) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        Err(key_must_be_a_string())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_must_be_a_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde_json::Value;

    use super::*;
    use crate::{Envelope, EventType, examples};

    /// `value`'s compact JSON as a string.
    fn to_string<T: ?Sized + Serialize>(value: &T) -> Result<String, Error> {
        let mut out = Vec::with_capacity(128);
        to_writer(&mut out, value)?;
        // Only whole UTF-8 strings and ASCII are ever written.
        String::from_utf8(out).map_err(|e| Error(e.to_string()))
    }

    /// Both writers' output for `value`, or both errors.
    fn both<T: ?Sized + Serialize>(value: &T) -> (Result<String, ()>, Result<String, ()>) {
        (
            to_string(value).map_err(|_| ()),
            serde_json::to_string(value).map_err(|_| ()),
        )
    }

    fn same<T: ?Sized + Serialize + std::fmt::Debug>(value: &T) {
        let (ours, theirs) = both(value);
        assert_eq!(ours, theirs, "{value:?}");
    }

    #[test]
    fn every_example_envelope_is_written_as_serde_json_writes_it() {
        for t in EventType::ALL {
            let event = examples::event(*t);
            for vehicle in [None, Some("veh_1"), Some(examples::vehicle().id.as_str())] {
                let envelope = Envelope::new(
                    "vwc.test",
                    "org_a",
                    vehicle,
                    Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
                    event.clone(),
                );
                let ours = to_string(&envelope).unwrap();
                assert_eq!(ours, serde_json::to_string(&envelope).unwrap(), "{t:?}");
                let back: Envelope = serde_json::from_str(&ours).unwrap();
                assert_eq!(back, envelope);
            }
        }
        let undecodable = examples::undecodable(
            EventType::ReminderDue,
            "vwc.test",
            "org_a",
            Some("veh_1"),
            serde_json::json!({"note": "tab\there", "n": [1.5, -2, null]}),
        );
        same(&undecodable);
        same(&examples::maintenance_schedule());
        same(&examples::oil_change_reminder());
        same(&examples::maintenance_schedule_wire(3));
        same(&examples::vehicle_event());
    }

    #[test]
    fn a_string_needs_escaping_when_any_byte_at_any_place_does() {
        for len in 0..=24 {
            for place in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[place] = b;
                    let expected = !(b < 0x20 || b == b'"' || b == b'\\');
                    assert_eq!(nothing_to_escape(&bytes), expected, "{len} {place} {b}");
                }
            }
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_ascii: String = (0u8..=127).map(char::from).collect();
        for s in [
            "",
            "plain",
            "\"",
            "\\",
            "a\"b\\c",
            "tab\there\nnew\rline\u{8}\u{c}\u{0}\u{1f}\u{7f}",
            "Ölwechsel — 5 W-30 · 🚗",
            every_ascii.as_str(),
        ] {
            same(s);
            same(&BTreeMap::from([(s, s)]));
        }
        same(&'"');
        same(&'é');
    }

    #[test]
    fn numbers_options_enums_and_keys_are_written_as_serde_json_writes_them() {
        #[derive(Debug, Serialize)]
        enum Shape {
            Unit,
            Newtype(u8),
            Tuple(i64, f64),
            Struct { a: bool, b: Option<String> },
        }
        #[derive(Debug, Serialize)]
        struct Unit;
        #[derive(Debug, Serialize)]
        struct Pair(u32, &'static str);
        #[derive(Debug, Serialize)]
        struct Skips {
            #[serde(skip_serializing_if = "Option::is_none")]
            gone: Option<u8>,
            kept: Option<u8>,
            #[serde(with = "serde_bytes_like")]
            bytes: Vec<u8>,
        }
        mod serde_bytes_like {
            pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(v)
            }
        }
        same(&[Shape::Unit, Shape::Newtype(7), Shape::Tuple(-3, 2.5)]);
        same(&Shape::Struct { a: true, b: None });
        same(&Shape::Struct {
            a: false,
            b: Some("x".into()),
        });
        same(&(Unit, Pair(1, "one"), (), Some(()), None::<u8>));
        same(&Skips {
            gone: None,
            kept: None,
            bytes: vec![0, 1, 255],
        });
        same(&Vec::<u8>::new());
        same(&BTreeMap::<String, u8>::new());
        same(&[i64::MIN, i64::MAX, 0]);
        same(&[u64::MAX, 0]);
        same(&[i128::MIN, i128::MAX]);
        same(&[u128::MAX]);
        same(&[
            0.0,
            -0.0,
            1e-300,
            1.5e300,
            f64::NAN,
            f64::INFINITY,
            f64::MIN_POSITIVE,
            0.1 + 0.2,
        ]);
        same(&[1.1f32, f32::NAN, f32::MAX]);
        same(&BTreeMap::from([(1i32, "a"), (-2, "b")]));
        same(&BTreeMap::from([(u64::MAX, 1u8)]));
        same(&BTreeMap::from([(true, 1u8), (false, 2)]));
        same(&BTreeMap::from([('k', 1u8)]));
        same(&BTreeMap::from([(EventType::ReminderDue, 1u8)]));
        // Keys serde_json refuses are refused here too.
        let refused = [
            both(&BTreeMap::from([((1u8, 2u8), 0u8)])),
            both(&BTreeMap::from([(vec![1u8], 0u8)])),
            both(&BTreeMap::from([(None::<u8>, 0u8)])),
            both(&BTreeMap::from([((), 0u8)])),
        ];
        for (ours, theirs) in refused {
            assert_eq!((ours, theirs), (Err(()), Err(())));
        }
        let mut float_keys = std::collections::HashMap::new();
        float_keys.insert(serde_json::Number::from_f64(2.5).unwrap().to_string(), 1u8);
        same(&float_keys);
    }

    #[test]
    fn the_kept_buffer_holds_each_value_alone() {
        let big = "x".repeat(100 * 1024);
        for value in ["first", big.as_str(), "after a large one", ""] {
            let written = with_written(&value, |json| String::from_utf8(json.to_vec()).unwrap());
            assert_eq!(written.unwrap(), serde_json::to_string(value).unwrap());
        }
        let refused = with_written(&BTreeMap::from([((1u8, 2u8), 0u8)]), <[u8]>::len);
        assert!(refused.is_err());
        assert_eq!(with_written(&1u8, <[u8]>::len), Ok(1));
    }

    #[test]
    fn serde_jsons_private_raw_values_are_refused() {
        /// What serde_json's `RawValue` does (behind its `raw_value` feature, which not every build has).
        struct Raw;
        impl Serialize for Raw {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeStruct;
                let mut st = s.serialize_struct("$serde_json::private::RawValue", 1)?;
                st.serialize_field("$serde_json::private::RawValue", "[1, 2]")?;
                st.end()
            }
        }
        assert!(to_string(&Raw).is_err());
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            "[ -~\\t\\n\\u{0}-\\u{1f}é€🚗]{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec(("[ -~\\u{0}-\\u{1f}é]{0,12}", inner), 0..8)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_json_value_is_written_as_serde_json_writes_it(value in json_value()) {
            prop_assert_eq!(to_string(&value).unwrap(), serde_json::to_string(&value).unwrap());
        }

        #[test]
        fn any_string_is_written_as_serde_json_writes_it(s in any::<String>(), t in "[\\u{0}-\\u{7f}]{0,64}") {
            prop_assert_eq!(to_string(&s).unwrap(), serde_json::to_string(&s).unwrap());
            prop_assert_eq!(to_string(&t).unwrap(), serde_json::to_string(&t).unwrap());
        }

        #[test]
        fn any_float_is_written_as_serde_json_writes_it(x in any::<f64>(), y in any::<f32>()) {
            prop_assert_eq!(to_string(&(x, y)).unwrap(), serde_json::to_string(&(x, y)).unwrap());
        }
    }
}
