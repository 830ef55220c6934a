import Testing
@testable import TetherWire

private func parse(_ s: String, _ limits: JSONLimits = JSONLimits()) throws(JSONError) -> JSONValue {
    try JSONReader.parse(s, limits: limits)
}

private func fails(_ s: String, _ limits: JSONLimits = JSONLimits()) -> JSONError? {
    do {
        _ = try JSONReader.parse(s, limits: limits)
        return nil
    } catch {
        return error
    }
}

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

@Suite struct JSONReaderTests {
    // RFC 8259 section 13, first example.
    @Test func rfc8259ImageObject() throws {
        let doc = """
            {
                  "Image": {
                      "Width":  800,
                      "Height": 600,
                      "Title":  "View from 15th Floor",
                      "Thumbnail": {
                          "Url":    "http://www.example.com/image/481989943",
                          "Height": 125,
                          "Width":  100
                      },
                      "Animated" : false,
                      "IDs": [116, 943, 234, 38793]
                    }
                }
            """
        let v = try parse(doc)
        #expect(v["Image"]?["Width"]?.int64 == 800)
        #expect(v["Image"]?["Title"]?.string == "View from 15th Floor")
        #expect(v["Image"]?["Thumbnail"]?["Url"]?.string == "http://www.example.com/image/481989943")
        #expect(v["Image"]?["Animated"]?.bool == false)
        #expect(v["Image"]?["IDs"]?.items?.count == 4)
        #expect(v["Image"]?["IDs"]?[3]?.int64 == 38793)
    }

    // RFC 8259 section 13, second example (fractions, negative numbers, empty strings).
    @Test func rfc8259ArrayOfObjects() throws {
        let doc = """
            [
                    {
                       "precision": "zip",
                       "Latitude":  37.7668,
                       "Longitude": -122.3959,
                       "Address":   "",
                       "City":      "SAN FRANCISCO",
                       "State":     "CA",
                       "Zip":       "94107",
                       "Country":   "US"
                    },
                    {
                       "precision": "zip",
                       "Latitude":  37.371991,
                       "Longitude": -122.026020,
                       "Address":   "",
                       "City":      "SUNNYVALE",
                       "State":     "CA",
                       "Zip":       "94085",
                       "Country":   "US"
                    }
            ]
            """
        let v = try parse(doc)
        #expect(v.items?.count == 2)
        #expect(v[1]?["City"]?.string == "SUNNYVALE")
        #expect(v[0]?["Longitude"] == .number(JSONNumber(text: "-122.3959")))
        #expect(v[0]?["Longitude"]?.int64 == nil)
        #expect(v[0]?["Address"]?.string == "")
    }

    // RFC 8259 section 13: scalars are valid texts.
    @Test func rfc8259Scalars() throws {
        #expect(try parse("\"Hello world!\"") == .string("Hello world!"))
        #expect(try parse("42").int64 == 42)
        #expect(try parse("true") == .bool(true))
        #expect(try parse(" null ") == .null)
    }

    // RFC 8259 section 7: G clef as a surrogate pair.
    @Test func surrogatePairs() throws {
        #expect(try parse(#""\uD834\uDD1E""#).string == "\u{1D11E}")
        #expect(try parse(#""\ud83d\ude00x""#).string == "😀x")
        #expect(fails(#""\uD834""#) == .unpairedSurrogate(at: 1))
        #expect(fails(#""\uD834\u0041""#) == .unpairedSurrogate(at: 1))
        #expect(fails(#""\uDD1E""#) == .unpairedSurrogate(at: 1))
    }

    @Test func escapes() throws {
        #expect(try parse(#""a\"b\\c\/d\b\f\n\r\t\u00e9\u0000""#).string
            == "a\"b\\c/d\u{08}\u{0C}\n\r\té\u{0}")
        #expect(fails(#""\x""#) == .invalidEscape(at: 1))
        #expect(fails(#""\u12G4""#) == .invalidUnicodeEscape(at: 5))
        #expect(fails(#""\u12"#) == .invalidUnicodeEscape(at: 3))
    }

    @Test func rawUTF8() throws {
        #expect(try parse("\"héllo → 😀\"").string == "héllo → 😀")
        #expect(fails("\"\u{1}\"") == .controlCharacterInString(at: 1))
        // Overlong '/', lone continuation, UTF-16 surrogate encoded in UTF-8, truncated sequence.
        for bad: [UInt8] in [[0x22, 0xC0, 0xAF, 0x22], [0x22, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
                             [0x22, 0xF0, 0x9F, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]] {
            #expect(throws: JSONError.invalidUTF8(at: 1)) { try JSONReader.parse(bad) }
        }
    }

    @Test func numbers() throws {
        for ok in ["0", "-0", "1.5", "-1.5e10", "1E+2", "1e-2", "123456789012345678901234567890"] {
            #expect(try parse(ok) == .number(JSONNumber(text: ok)))
        }
        for bad in ["01", "-", "1.", ".5", "1e", "1e+", "+1", "--1"] {
            #expect(fails(bad) != nil, "\(bad) must be rejected")
        }
        #expect(try parse("9223372036854775807").int64 == Int64.max)
        #expect(try parse("-9223372036854775808").int64 == Int64.min)
        #expect(try parse("9223372036854775808").int64 == nil)
        #expect(try parse("600").int64 == 600)
    }

    @Test func malformedStructure() {
        #expect(fails("") == .unexpectedEnd)
        #expect(fails("   ") == .unexpectedEnd)
        #expect(fails("{") == .unexpectedEnd)
        #expect(fails("[1,") == .unexpectedEnd)
        #expect(fails("[1,]") == .unexpectedByte(UInt8(ascii: "]"), at: 3))
        #expect(fails("{\"a\":1,}") == .unexpectedByte(UInt8(ascii: "}"), at: 7))
        #expect(fails("{\"a\" 1}") == .unexpectedByte(UInt8(ascii: "1"), at: 5))
        #expect(fails("{a:1}") == .unexpectedByte(UInt8(ascii: "a"), at: 1))
        #expect(fails("[1 2]") == .unexpectedByte(UInt8(ascii: "2"), at: 3))
        #expect(fails("tru") == .unexpectedEnd)
        #expect(fails("nul1") == .unexpectedByte(UInt8(ascii: "1"), at: 3))
        #expect(fails("{} x") == .trailingBytes(at: 3))
        #expect(fails("\"abc") == .unexpectedEnd)
        #expect(fails("'a'") == .unexpectedByte(UInt8(ascii: "'"), at: 0))
    }

    @Test func limits() {
        let deep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(fails(deep) == .nestingTooDeep(at: 32))
        let okDeep = String(repeating: "[", count: 32) + String(repeating: "]", count: 32)
        #expect(fails(okDeep) == nil)
        #expect(fails("[1,2,3]", JSONLimits(maxBytes: 6)) == .inputTooLarge(size: 7, limit: 6))
        let long = "\"" + String(repeating: "a", count: 20) + "\""
        #expect(fails(long, JSONLimits(maxStringBytes: 10)) == .stringTooLong(at: 12))
        #expect(fails(long, JSONLimits(maxStringBytes: 20)) == nil)
    }

    @Test func unknownFieldsAndDuplicates() throws {
        let v = try parse(#"{"x":{"deep":[1,{"y":null}]},"uid":"a","uid":"b"}"#)
        #expect(v["uid"]?.string == "b")  // last wins, like Go
        #expect(v["missing"] == nil)
        #expect(v["x"]?["deep"]?[1]?["y"]?.isNull == true)
    }
}

@Suite struct JSONWriterTests {
    @Test func goStyleEscaping() {
        var w = JSONWriter()
        w.string("a\"b\\c/<tag>&\u{08}\u{0C}\n\r\t\u{1}\u{1F}é\u{2028}\u{2029}😀")
        // Expected bytes are what Go's json.Marshal writes for this string.
        #expect(text(w.bytes)
            == #""a\"b\\c/\u003ctag\u003e\u0026\b\f\n\r\t\u0001\u001fé\u2028\u2029😀""#)
    }

    @Test func compactStructure() {
        var w = JSONWriter()
        w.beginObject()
        w.field("a", "x")
        w.key("n"); w.int(-42)
        w.key("list"); w.beginArray(); w.int(1); w.bool(true); w.null(); w.beginObject(); w.endObject(); w.endArray()
        w.fieldOmitEmpty("skip", "")
        w.fieldOmitEmpty("keep", "k")
        w.endObject()
        #expect(text(w.bytes) == #"{"a":"x","n":-42,"list":[1,true,null,{}],"keep":"k"}"#)
    }

    @Test func roundTrip() throws {
        let doc = #"{"a":[1,2.5e3,"\u003c\n",{"b":null,"c":false}],"d":"😀"}"#
        let v = try JSONReader.parse(doc)
        #expect(text(JSONWriter.encode(v)) == doc)
        #expect(try JSONReader.parse(JSONWriter.encode(v)) == v)
    }
}
