import Foundation
import LabKit

/// An OpenAPI 3.1 document read as plain JSON: its operations, their parameters, bodies
/// and answers, local `$ref`s followed, and the structural rules the openapi-docs lab holds
/// a document to (`problems()`). The JSON Schemas inside are judged by `SchemaValidator`.
///
/// Decision: read with our own ~250 lines rather than OpenAPIKit. OpenAPIKit was the
/// slowest package of the whole release build (284 CPU-seconds, more than GRDB and
/// swift-protobuf together) for the handful of rules below, all of which are a few lines
/// over JSON; the document we serve is checked independently by the tests
/// (openapi-spec-validator, from PyPI) rather than by a Swift type system.
struct OpenAPIDocument {
    static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    struct Operation {
        /// Upper-case, as on the wire.
        let method: String
        let path: String
        let json: JSONValue
    }

    let root: JSONValue

    /// The document, if `json` is an object; `problems()` says what else is wrong with it.
    init?(_ json: JSONValue) {
        guard json.object != nil else { return nil }
        root = json
    }

    var version: String { root["openapi"]?.string ?? "?" }
    var paths: [String: JSONValue] { root["paths"]?.object ?? [:] }
    var schemaCount: Int { root["components"]?["schemas"]?.object?.count ?? 0 }

    /// Every operation of every path item (path items and operations behind a `$ref` followed).
    var operations: [Operation] {
        paths.sorted { $0.key < $1.key }.flatMap { path, item -> [Operation] in
            guard let item = resolve(item) else { return [] }
            return Self.methods.compactMap { m in item[m].flatMap(resolve).map { Operation(method: m.uppercased(), path: path, json: $0) } }
        }
    }

    // MARK: References

    /// The value a local JSON Pointer names ("#/components/schemas/Book"); nil when it names nothing.
    func pointer(_ reference: String) -> JSONValue? {
        guard reference.hasPrefix("#") else { return nil }
        var value = root
        for token in reference.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
            let key = (token.removingPercentEncoding ?? String(token))
                .replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let object = value.object, let next = object[key] {
                value = next
            } else if let array = value.array, let index = Int(key), array.indices.contains(index) {
                value = array[index]
            } else {
                return nil
            }
        }
        return value
    }

    /// `value` with its `$ref`s followed (up to 32 deep); nil when one does not resolve.
    func resolve(_ value: JSONValue) -> JSONValue? {
        var current = value
        for _ in 0..<32 {
            guard let reference = current["$ref"]?.string else { return current }
            guard let target = pointer(reference) else { return nil }
            current = target
        }
        return nil
    }

    // MARK: What an operation documents

    /// The answer documented for `status`: the code itself, then its range ("2XX"), then "default".
    func response(_ operation: Operation, status: Int) -> JSONValue? {
        guard let responses = operation.json["responses"]?.object else { return nil }
        let range = responses.first { $0.key.uppercased() == "\(status / 100)XX" }?.value
        return (responses[String(status)] ?? range ?? responses["default"]).flatMap(resolve)
    }

    /// The schema of `mediaType` in a response or request body, else of its first JSON media type.
    func schema(_ carrier: JSONValue, mediaType: String?) -> JSONValue? {
        guard let content = carrier["content"]?.object else { return nil }
        let media =
            mediaType.flatMap { content[$0] }
            ?? content.sorted { $0.key < $1.key }.first { $0.key.split(separator: ";")[0].hasSuffix("json") }?.value
        return media.flatMap(resolve)?["schema"]
    }

    /// The schemas of an operation's request body and of its 2xx, 3xx and 4xx answers.
    func bodySchemas(_ operation: Operation) -> [JSONValue] {
        var carriers: [JSONValue] = []
        if let body = operation.json["requestBody"].flatMap(resolve) { carriers.append(body) }
        for (status, response) in operation.json["responses"]?.object ?? [:] where "234".contains(status.first ?? "x") {
            if let r = resolve(response) { carriers.append(r) }
        }
        return carriers.flatMap { carrier in
            (carrier["content"]?.object ?? [:]).values.compactMap { resolve($0)?["schema"] }
        }
    }

    // MARK: The rules

    /// Every way the document breaks the structure OpenAPI 3.1 gives it, each with where
    /// ("paths./books.get: …"); empty when it holds.
    func problems() -> [String] {
        var out: [String] = []
        // The version: 3.1 or later (3.0 has another schema dialect: nullable, boolean exclusiveMinimum).
        if let v = root["openapi"]?.string {
            let parts = v.split(separator: ".").map { Int($0) }
            if parts.count < 2 || parts.contains(nil) {
                out.append("openapi: \"\(v)\" is not a version such as 3.1.1")
            } else if let major = parts[0], let minor = parts[1], major != 3 || minor < 1 {
                out.append("openapi: \(v) is not 3.1 or later (emit 3.1)")
            }
        } else {
            out.append("openapi: missing (a version string such as \"3.1.1\")")
        }
        if let info = root["info"], info.object != nil {
            if info["title"]?.string == nil { out.append("info.title: missing") }
            if info["version"]?.string == nil { out.append("info.version: missing") }
        } else {
            out.append("info: missing")
        }
        if root["paths"] == nil, root["components"] == nil, root["webhooks"] == nil {
            out.append("the document has none of paths, components or webhooks")
        }
        if let p = root["paths"], p.object == nil { out.append("paths: not an object") }

        var operationIds: [String: String] = [:]
        for (path, rawItem) in paths.sorted(by: { $0.key < $1.key }) {
            let at = "paths.\(path)"
            if !path.hasPrefix("/") { out.append("\(at): a path must start with /") }
            guard let item = resolve(rawItem), item.object != nil else {
                out.append("\(at): not a path item (or its $ref does not resolve)")
                continue
            }
            let template = Set(Self.templateVariables(path))
            let shared = parameters(item["parameters"], at: at, into: &out)
            for method in Self.methods {
                guard let raw = item[method] else { continue }
                let opAt = "\(at).\(method)"
                guard let op = resolve(raw), op.object != nil else {
                    out.append("\(opAt): not an operation object")
                    continue
                }
                if let id = op["operationId"] {
                    if let id = id.string {
                        let route = "\(method.uppercased()) \(path)"
                        if let other = operationIds[id] {
                            out.append("\(opAt).operationId: \(id) is also the operationId of \(other) (operationIds must be unique)")
                        } else {
                            operationIds[id] = route
                        }
                    } else {
                        out.append("\(opAt).operationId: not a string")
                    }
                }
                // The operation's parameters override the path item's with the same name and place.
                var merged = shared
                for (key, value) in parameters(op["parameters"], at: opAt, into: &out) { merged[key] = value }
                let declared = Set(merged.keys.filter { $0.place == "path" }.map(\.name))
                for name in template.subtracting(declared).sorted() {
                    out.append("\(opAt): {\(name)} in the path has no path parameter")
                }
                for name in declared.subtracting(template).sorted() {
                    out.append("\(opAt): path parameter \(name) is not in the path")
                }
                if let body = op["requestBody"] {
                    if let b = resolve(body) {
                        if b["content"]?.object == nil { out.append("\(opAt).requestBody: no content") }
                    } else {
                        out.append("\(opAt).requestBody: its $ref does not resolve")
                    }
                }
                guard let responses = op["responses"]?.object, !responses.isEmpty else {
                    out.append("\(opAt): no responses")
                    continue
                }
                for (status, rawResponse) in responses.sorted(by: { $0.key < $1.key }) {
                    let rAt = "\(opAt).responses.\(status)"
                    if !Self.isStatusKey(status) { out.append("\(rAt): not a status code, a range such as 4XX, or default") }
                    guard let response = resolve(rawResponse), response.object != nil else {
                        out.append("\(rAt): not a response (or its $ref does not resolve)")
                        continue
                    }
                    if response["description"]?.string == nil { out.append("\(rAt).description: missing") }
                }
            }
        }
        for (name, schema) in (root["components"]?["schemas"]?.object ?? [:]).sorted(by: { $0.key < $1.key }) {
            if schema.object == nil, schema.bool == nil { out.append("components.schemas.\(name): not a schema") }
        }
        out += danglingReferences(root, at: "$")
        return out
    }

    private struct ParameterKey: Hashable {
        let name: String
        let place: String
    }

    /// A parameter list's entries by name and place, with what is wrong with them appended to `out`.
    private func parameters(_ list: JSONValue?, at: String, into out: inout [String]) -> [ParameterKey: JSONValue] {
        guard let list else { return [:] }
        guard let array = list.array else {
            out.append("\(at).parameters: not an array")
            return [:]
        }
        var found: [ParameterKey: JSONValue] = [:]
        for (index, raw) in array.enumerated() {
            let pAt = "\(at).parameters[\(index)]"
            guard let p = resolve(raw), p.object != nil else {
                out.append("\(pAt): not a parameter (or its $ref does not resolve)")
                continue
            }
            guard let name = p["name"]?.string, let place = p["in"]?.string else {
                out.append("\(pAt): a parameter needs a name and an in")
                continue
            }
            if !["query", "header", "path", "cookie"].contains(place) {
                out.append("\(pAt): in is \(place), not query, header, path or cookie")
            }
            if place == "path", p["required"]?.bool != true { out.append("\(pAt): path parameter \(name) must be required: true") }
            if p["schema"] == nil, p["content"] == nil { out.append("\(pAt): parameter \(name) has neither a schema nor content") }
            let key = ParameterKey(name: name, place: place)
            if found[key] != nil { out.append("\(pAt): \(name) (in \(place)) is listed twice") }
            found[key] = p
        }
        return found
    }

    /// Every `$ref` under `value` that does not resolve inside the document, with where.
    private func danglingReferences(_ value: JSONValue, at: String) -> [String] {
        switch value {
        case let .object(o):
            var out: [String] = []
            if let reference = o["$ref"]?.string {
                if !reference.hasPrefix("#") {
                    out.append("\(at).$ref: \(reference) points outside the document (serve a self-contained one)")
                } else if pointer(reference) == nil {
                    out.append("\(at).$ref: \(reference) does not resolve")
                }
            }
            for (key, child) in o.sorted(by: { $0.key < $1.key }) where key != "$ref" {
                // Examples are data, not document structure.
                if key == "example" || key == "examples" || key == "const" || key == "enum" || key == "default" { continue }
                out += danglingReferences(child, at: "\(at).\(key)")
            }
            return out
        case let .array(a):
            return a.enumerated().flatMap { danglingReferences($1, at: "\(at)[\($0)]") }
        default:
            return []
        }
    }

    /// "/books/{id}/reviews" → ["id"].
    static func templateVariables(_ path: String) -> [String] {
        var names: [String] = []
        var rest = Substring(path)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    static func isStatusKey(_ key: String) -> Bool {
        if key == "default" { return true }
        let k = Array(key.uppercased())
        guard k.count == 3, let first = k[0].wholeNumberValue, (1...5).contains(first) else { return false }
        return (k[1].isNumber && k[2].isNumber) || (k[1] == "X" && k[2] == "X")
    }
}
