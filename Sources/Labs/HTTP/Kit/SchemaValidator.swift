import Foundation
import LabKit
import OpenAPIKit

/// The part of JSON Schema the bookshelf's documents use, checked over OpenAPIKit's
/// `JSONSchema`: type (with null), required, properties, additionalProperties (false or a
/// schema), items, enum, minimum/maximum, minLength/maxLength, pattern, the date-time
/// format, allOf/anyOf/oneOf/not and local `$ref`s into `components/schemas`. Anything
/// else a schema says is not checked (and does not fail a value).
struct SchemaValidator {
    let components: OpenAPI.Components

    /// Every way `value` breaks `schema`, with a JSON path each ("$.items[0].year: …").
    func errors(_ value: JSONValue, _ schema: JSONSchema, at path: String = "$", depth: Int = 0) -> [String] {
        guard depth < 32 else { return ["\(path): schema nests too deep (a $ref cycle?)"] }
        if case .reference = schema.value {
            guard let target = components[schema] else { return ["\(path): cannot resolve \(schema.reference?.absoluteString ?? "$ref")"] }
            return errors(value, target, at: path, depth: depth + 1)
        }
        if value == .null, schema.nullable { return [] }
        if let allowed = schema.allowedValues, !allowed.isEmpty {
            let options = allowed.compactMap(Self.json)
            if !options.contains(value) { return ["\(path): \(value.text) is not one of \(options.map(\.text).joined(separator: ", "))"] }
        }
        switch schema.value {
        case .reference:
            return []
        case .null:
            return value == .null ? [] : ["\(path): expected null, got \(value.typeName)"]
        case .boolean:
            return value.bool != nil ? [] : ["\(path): expected a boolean, got \(value.typeName)"]
        case let .integer(_, c):
            guard case let .int(i) = value else { return ["\(path): expected a whole number, got \(value.typeName)"] }
            var out: [String] = []
            if let m = c.minimum, m.exclusive ? i <= m.value : i < m.value { out.append("\(path): \(i) is below the minimum \(m.value)") }
            if let m = c.maximum, m.exclusive ? i >= m.value : i > m.value { out.append("\(path): \(i) is above the maximum \(m.value)") }
            return out
        case let .number(_, c):
            let d: Double
            switch value {
            case let .int(i): d = Double(i)
            case let .double(x): d = x
            default: return ["\(path): expected a number, got \(value.typeName)"]
            }
            var out: [String] = []
            if let m = c.minimum, m.exclusive ? d <= m.value : d < m.value { out.append("\(path): \(d) is below the minimum \(m.value)") }
            if let m = c.maximum, m.exclusive ? d >= m.value : d > m.value { out.append("\(path): \(d) is above the maximum \(m.value)") }
            return out
        case let .string(core, c):
            guard let s = value.string else { return ["\(path): expected a string, got \(value.typeName)"] }
            var out: [String] = []
            if s.count < c.minLength { out.append("\(path): shorter than \(c.minLength)") }
            if let max = c.maxLength, s.count > max { out.append("\(path): longer than \(max)") }
            if let p = c.pattern, s.range(of: p, options: .regularExpression) == nil { out.append("\(path): \"\(s)\" does not match \(p)") }
            if core.format == .dateTime, !Self.isDateTime(s) { out.append("\(path): \"\(s)\" is not an RFC 3339 date-time") }
            return out
        case let .object(_, c):
            guard let o = value.object else { return ["\(path): expected an object, got \(value.typeName)"] }
            var out: [String] = []
            for name in c.requiredProperties where o[name] == nil { out.append("\(path): missing required \(name)") }
            for (name, v) in o.sorted(by: { $0.key < $1.key }) {
                if let property = c.properties[name] {
                    out += errors(v, property, at: "\(path).\(name)", depth: depth + 1)
                } else {
                    switch c.additionalProperties {
                    case .a(false)?: out.append("\(path): \(name) is not allowed (additionalProperties: false)")
                    case let .b(extra)?: out += errors(v, extra, at: "\(path).\(name)", depth: depth + 1)
                    default: break
                    }
                }
            }
            return out
        case let .array(_, c):
            guard let a = value.array else { return ["\(path): expected an array, got \(value.typeName)"] }
            guard let items = c.items else { return [] }
            return a.enumerated().flatMap { errors($1, items, at: "\(path)[\($0)]", depth: depth + 1) }
        case let .all(of: schemas, core: _):
            return schemas.flatMap { errors(value, $0, at: path, depth: depth + 1) }
        case let .any(of: schemas, core: _):
            return schemas.contains { errors(value, $0, at: path, depth: depth + 1).isEmpty } ? [] : ["\(path): matches none of anyOf"]
        case let .one(of: schemas, core: _):
            let n = schemas.filter { errors(value, $0, at: path, depth: depth + 1).isEmpty }.count
            return n == 1 ? [] : ["\(path): matches \(n) of oneOf, not exactly one"]
        case let .not(schema, core: _):
            return errors(value, schema, at: path, depth: depth + 1).isEmpty ? ["\(path): matches a schema under not"] : []
        case .fragment:
            return []
        }
    }

    /// Object schemas reachable from `schema` that allow properties beyond theirs (no
    /// `additionalProperties: false`), by title or path.
    func openObjects(_ schema: JSONSchema, at path: String, seen: inout Set<String>, depth: Int = 0) -> [String] {
        guard depth < 32 else { return [] }
        if case .reference = schema.value {
            let name = schema.reference?.absoluteString ?? path
            guard seen.insert(name).inserted, let target = components[schema] else { return [] }
            return openObjects(target, at: name, seen: &seen, depth: depth + 1)
        }
        switch schema.value {
        case let .object(core, c):
            var out: [String] = []
            if !c.properties.isEmpty, c.additionalProperties != .a(false) { out.append(core.title ?? path) }
            for (name, p) in c.properties { out += openObjects(p, at: "\(path).\(name)", seen: &seen, depth: depth + 1) }
            return out
        case let .array(_, c):
            return c.items.map { openObjects($0, at: "\(path)[]", seen: &seen, depth: depth + 1) } ?? []
        case let .all(of: s, core: _), let .any(of: s, core: _), let .one(of: s, core: _):
            return s.flatMap { openObjects($0, at: path, seen: &seen, depth: depth + 1) }
        default:
            return []
        }
    }

    static func json(_ any: AnyCodable) -> JSONValue? {
        (try? JSONEncoder().encode(any)).flatMap { try? JSONDecoder().decode(JSONValue.self, from: $0) }
    }

    static func isDateTime(_ s: String) -> Bool {
        s.range(of: #"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"#, options: .regularExpression) != nil
    }
}
