import Foundation
import Mustache

/// The message templates, files in `Templates/` (`<name>.<language>.mustache`): the first line is
/// the subject, then a blank line, then the body. Values are inserted as written (`{{{…}}}`): the
/// messages are plain text. Every template exists in every ``Language``; a missing one is an
/// error at start, not at 3 a.m.
public struct MessageTemplates: Sendable {
    private let library: MustacheLibrary

    public struct Message: Sendable, Equatable {
        public var subject: String
        public var body: String
    }

    public enum LoadError: Error, CustomStringConvertible {
        case missing([String])
        public var description: String {
            switch self {
            case .missing(let names): "message templates missing: \(names.joined(separator: ", "))"
            }
        }
    }

    /// The templates shipped with the module.
    public static func bundled() throws -> MessageTemplates {
        guard let directory = Bundle.module.resourceURL?.appendingPathComponent("Templates") else {
            throw LoadError.missing(["the Templates folder"])
        }
        return try MessageTemplates(directory: directory)
    }

    public init(directory: URL) throws {
        var library = MustacheLibrary()
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for file in files where file.hasSuffix(".mustache") {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            try library.register(text, named: String(file.dropLast(".mustache".count)))
        }
        self.library = library
        let missing = TemplateName.allCases.flatMap { name in Language.allCases.map { "\(name.rawValue).\($0.rawValue)" } }
            .filter { library.getTemplate(named: $0) == nil }
        if !missing.isEmpty { throw LoadError.missing(missing) }
    }

    /// `context`: the event's payload fields plus what the service adds (`place`, `due`, …).
    public func render(_ name: TemplateName, _ language: Language, _ context: [String: Any]) -> Message {
        let text = library.render(context, withTemplate: "\(name.rawValue).\(language.rawValue)") ?? ""
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let subject = lines.first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
        let body = lines.dropFirst().joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        return Message(subject: subject, body: body)
    }
}
