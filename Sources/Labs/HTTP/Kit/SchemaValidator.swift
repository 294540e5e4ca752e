import Foundation
import LabKit

/// The part of JSON Schema (the 2020-12 dialect of OpenAPI 3.1) the bookshelf's documents
/// use, over the schema as JSON: type (one or a list, "null" among them), enum, const,
/// required, properties, additionalProperties (false or a schema), items, minItems/maxItems,
/// minimum/maximum/exclusiveMinimum/exclusiveMaximum, minLength/maxLength, pattern, the
/// date-time format, allOf/anyOf/oneOf/not and local `$ref`s. Anything else a schema says
/// is not checked (and does not fail a value). OpenAPI 3.0's `nullable: true` is honoured
/// too, so a 3.0-style schema inside a 3.1 document is judged as its author meant.
struct SchemaValidator {
    let document: OpenAPIDocument

    /// Every way `value` breaks `schema`, with a JSON path each ("$.items[0].year: …").
    func errors(_ value: JSONValue, _ schema: JSONValue, at path: String = "$", depth: Int = 0) -> [String] {
        guard depth < 32 else { return ["\(path): schema nests too deep (a $ref cycle?)"] }
        if let allowed = schema.bool { return allowed ? [] : ["\(path): no value is allowed here (schema false)"] }
        guard let s = schema.object else { return [] }
        var out: [String] = []
        if let reference = s["$ref"]?.string {
            guard let target = document.pointer(reference) else { return ["\(path): cannot resolve \(reference)"] }
            out += errors(value, target, at: path, depth: depth + 1)
        }
        if value == .null, s["nullable"]?.bool == true { return out }

        // type: a value of another type fails with that one sentence.
        if let type = s["type"] {
            let names = type.string.map { [$0] } ?? type.array?.compactMap(\.string) ?? []
            if !names.isEmpty, !names.contains(where: { Self.matches(value, type: $0) }) {
                return out + ["\(path): expected \(names.joined(separator: " or ")), got \(value.typeName)"]
            }
        }
        if let options = s["enum"]?.array, !options.contains(where: { Self.equal($0, value) }) {
            out.append("\(path): \(value.text) is not one of \(options.map(\.text).joined(separator: ", "))")
        }
        if let constant = s["const"], !Self.equal(constant, value) { out.append("\(path): \(value.text) is not \(constant.text)") }

        switch value {
        case .int, .double:
            let d = Self.number(value) ?? 0
            if let m = s["minimum"].flatMap(Self.number) {
                // OpenAPI 3.0 writes an exclusive bound as minimum plus exclusiveMinimum: true.
                if s["exclusiveMinimum"]?.bool == true ? d <= m : d < m { out.append("\(path): \(value.text) is below the minimum \(Self.show(m))") }
            }
            if let m = s["maximum"].flatMap(Self.number) {
                if s["exclusiveMaximum"]?.bool == true ? d >= m : d > m { out.append("\(path): \(value.text) is above the maximum \(Self.show(m))") }
            }
            if let m = s["exclusiveMinimum"].flatMap(Self.number), d <= m { out.append("\(path): \(value.text) is not above \(Self.show(m))") }
            if let m = s["exclusiveMaximum"].flatMap(Self.number), d >= m { out.append("\(path): \(value.text) is not below \(Self.show(m))") }
        case let .string(text):
            if let min = s["minLength"]?.int, text.count < min { out.append("\(path): shorter than \(min)") }
            if let max = s["maxLength"]?.int, text.count > max { out.append("\(path): longer than \(max)") }
            if let p = s["pattern"]?.string, text.range(of: p, options: .regularExpression) == nil {
                out.append("\(path): \"\(text)\" does not match \(p)")
            }
            if s["format"]?.string == "date-time", !Self.isDateTime(text) { out.append("\(path): \"\(text)\" is not an RFC 3339 date-time") }
        case let .object(o):
            for case let .string(name) in s["required"]?.array ?? [] where o[name] == nil { out.append("\(path): missing required \(name)") }
            let properties = s["properties"]?.object ?? [:]
            for (name, v) in o.sorted(by: { $0.key < $1.key }) {
                if let property = properties[name] {
                    out += errors(v, property, at: "\(path).\(name)", depth: depth + 1)
                } else if let extra = s["additionalProperties"] {
                    if extra == .bool(false) {
                        out.append("\(path): \(name) is not allowed (additionalProperties: false)")
                    } else {
                        out += errors(v, extra, at: "\(path).\(name)", depth: depth + 1)
                    }
                }
            }
        case let .array(a):
            if let min = s["minItems"]?.int, a.count < min { out.append("\(path): fewer than \(min) items") }
            if let max = s["maxItems"]?.int, a.count > max { out.append("\(path): more than \(max) items") }
            if let items = s["items"] {
                out += a.enumerated().flatMap { errors($1, items, at: "\(path)[\($0)]", depth: depth + 1) }
            }
        case .null, .bool:
            break
        }

        for sub in s["allOf"]?.array ?? [] { out += errors(value, sub, at: path, depth: depth + 1) }
        if let any = s["anyOf"]?.array, !any.contains(where: { errors(value, $0, at: path, depth: depth + 1).isEmpty }) {
            out.append("\(path): matches none of anyOf")
        }
        if let one = s["oneOf"]?.array {
            let n = one.filter { errors(value, $0, at: path, depth: depth + 1).isEmpty }.count
            if n != 1 { out.append("\(path): matches \(n) of oneOf, not exactly one") }
        }
        if let not = s["not"], errors(value, not, at: path, depth: depth + 1).isEmpty { out.append("\(path): matches a schema under not") }
        return out
    }

    /// Object schemas reachable from `schema` that allow properties beyond theirs (no
    /// `additionalProperties: false`), by title or path.
    func openObjects(_ schema: JSONValue, at path: String, seen: inout Set<String>, depth: Int = 0) -> [String] {
        guard depth < 32, let s = schema.object else { return [] }
        var out: [String] = []
        if let reference = s["$ref"]?.string {
            if seen.insert(reference).inserted, let target = document.pointer(reference) {
                out += openObjects(target, at: reference, seen: &seen, depth: depth + 1)
            }
        }
        let properties = s["properties"]?.object ?? [:]
        if !properties.isEmpty, s["additionalProperties"] != .bool(false) { out.append(s["title"]?.string ?? path) }
        for (name, p) in properties.sorted(by: { $0.key < $1.key }) {
            out += openObjects(p, at: "\(path).\(name)", seen: &seen, depth: depth + 1)
        }
        if let items = s["items"] { out += openObjects(items, at: "\(path)[]", seen: &seen, depth: depth + 1) }
        for key in ["allOf", "anyOf", "oneOf"] {
            for sub in s[key]?.array ?? [] { out += openObjects(sub, at: path, seen: &seen, depth: depth + 1) }
        }
        return out
    }

    /// JSON Schema's types; an integer is a number without a fraction (2.0 counts).
    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object): return true
        case ("number", .int), ("number", .double), ("integer", .int): return true
        case let ("integer", .double(d)): return d.rounded() == d
        default: return false
        }
    }

    static func number(_ value: JSONValue) -> Double? {
        switch value {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }

    /// Equality as JSON Schema sees it: 1 and 1.0 are one number.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = number(a), let y = number(b) { return x == y }
        return a == b
    }

    static func show(_ d: Double) -> String { d.rounded() == d && abs(d) < 1e15 ? String(Int(d)) : String(d) }

    static func isDateTime(_ s: String) -> Bool {
        s.range(of: #"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"#, options: .regularExpression) != nil
    }
}
