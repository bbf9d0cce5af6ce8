import Foundation
import Yams

/// The contract documents in `docs/`, read for tests: the OpenAPI description of the HTTP API and
/// the AsyncAPI description of the events.
public enum Contracts {
    public static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A document's text, for what its structure does not hold (descriptions).
    public static func text(_ name: String) throws -> String {
        try String(contentsOf: repositoryRoot.appendingPathComponent("docs/\(name)"), encoding: .utf8)
    }

    static func load(_ name: String) throws -> [String: Any] {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/\(name)"), encoding: .utf8)
        guard let document = try Yams.load(yaml: text) as? [String: Any] else { throw ContractError("docs/\(name) is not a YAML mapping") }
        return document
    }

    public struct ContractError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

public struct OpenAPIDocument {
    let document: [String: Any]

    public init() throws { document = try Contracts.load("openapi.yaml") }

    public var version: String? { document["openapi"] as? String }

    /// `GET /tickets/{id}`, … for every operation of the document's own server (intake).
    public var operations: Set<String> { operations(port: nil) }

    /// The operations whose path items name the server on `port` as theirs (billing's, 8084), or
    /// with nil, those that name none.
    public func operations(port: Int?) -> Set<String> {
        let paths = (document["paths"] as? [String: Any] ?? [:]).filter { _, item in
            let servers = (item as? [String: Any])?["servers"] as? [[String: Any]]
            guard let port else { return servers == nil }
            return (servers?.first?["url"] as? String)?.hasSuffix(":\(port)") == true
        }
        return Set(paths.flatMap { path, item in
            (item as? [String: Any] ?? [:]).keys
                .filter { ["get", "put", "post", "delete", "patch"].contains($0) }
                .map { "\($0.uppercased()) \(path)" }
        })
    }

    /// Each operation's raw mapping, by `GET /path`.
    public var operationObjects: [String: [String: Any]] {
        let paths = document["paths"] as? [String: Any] ?? [:]
        var result: [String: [String: Any]] = [:]
        for (path, item) in paths {
            for (method, op) in item as? [String: Any] ?? [:] where ["get", "put", "post", "delete", "patch"].contains(method) {
                result["\(method.uppercased()) \(path)"] = op as? [String: Any] ?? [:]
            }
        }
        return result
    }

    /// The document's default security requirement and its scheme names.
    public var security: [[String: Any]] { document["security"] as? [[String: Any]] ?? [] }
    public var securitySchemes: [String: Any] { (document["components"] as? [String: Any])?["securitySchemes"] as? [String: Any] ?? [:] }

    func schema(_ name: String) -> [String: Any] {
        let components = document["components"] as? [String: Any]
        let schemas = components?["schemas"] as? [String: Any]
        return schemas?[name] as? [String: Any] ?? [:]
    }

    /// The property names and required names of a component schema.
    public func fields(of schema: String) -> (properties: Set<String>, required: Set<String>) {
        let s = self.schema(schema)
        return (Set((s["properties"] as? [String: Any] ?? [:]).keys), Set(s["required"] as? [String] ?? []))
    }

    public func enumeration(_ schema: String) -> [String] { self.schema(schema)["enum"] as? [String] ?? [] }

    /// The `code` values the Error schema lists.
    public var errorCodes: Set<String> {
        let code = (schema("Error")["properties"] as? [String: Any])?["code"] as? [String: Any]
        return Set(code?["enum"] as? [String] ?? [])
    }
}

public struct AsyncAPIDocument {
    public struct Channel {
        public let name: String
        public let address: String
        /// A parameter's allowed values; nil when any single routing-key word is allowed.
        public let parameters: [String: [String]?]

        /// Whether `key` (dot-separated) is an address of this channel.
        public func matches(_ key: String) -> Bool {
            let words = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            let pattern = address.split(separator: ".").map(String.init)
            guard words.count == pattern.count else { return false }
            return zip(pattern, words).allSatisfy { p, w in
                guard p.hasPrefix("{"), p.hasSuffix("}") else { return p == w }
                guard !w.isEmpty else { return false }
                return parameters[String(p.dropFirst().dropLast())].flatMap { $0 }?.contains(w) ?? true
            }
        }

        /// Every address the channel's enumerated parameters allow, with `property` for the others.
        public func addresses(property: String) -> [String] {
            var results = [""]
            for (i, p) in address.split(separator: ".").map(String.init).enumerated() {
                let choices: [String] = if p.hasPrefix("{") {
                    parameters[String(p.dropFirst().dropLast())].flatMap { $0 } ?? [property]
                } else {
                    [p]
                }
                results = results.flatMap { prefix in choices.map { i == 0 ? $0 : prefix + "." + $0 } }
            }
            return results
        }
    }

    let document: [String: Any]

    public init() throws { document = try Contracts.load("asyncapi.yaml") }

    public var version: String? { document["asyncapi"] as? String }

    public var channels: [Channel] {
        (document["channels"] as? [String: Any] ?? [:]).compactMap { name, value in
            guard let channel = value as? [String: Any], let address = channel["address"] as? String else { return nil }
            let parameters = (channel["parameters"] as? [String: Any] ?? [:]).mapValues { ($0 as? [String: Any])?["enum"] as? [String] }
            return Channel(name: name, address: address, parameters: parameters)
        }
    }

    public func channel(_ name: String) -> Channel? { channels.first { $0.name == name } }

    /// Whether some event channel (not a queue) describes this routing key.
    public func describes(routingKey: String) -> Bool {
        channels.filter { !$0.address.hasPrefix("propdesk.") }.contains { $0.matches(routingKey) }
    }

    public func fields(of schema: String) -> (properties: Set<String>, required: Set<String>) {
        let components = document["components"] as? [String: Any]
        let s = (components?["schemas"] as? [String: Any])?[schema] as? [String: Any] ?? [:]
        return (Set((s["properties"] as? [String: Any] ?? [:]).keys), Set(s["required"] as? [String] ?? []))
    }
}
