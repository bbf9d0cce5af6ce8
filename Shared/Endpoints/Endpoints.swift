/// One server of a URL's host list: `host:port`, the port filled in from the scheme's default.
public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, an IPv6 address in brackets.
    public var description: String { "\(host.contains(":") ? "[\(host)]" : host):\(port)" }
}

/// A URL whose authority lists several servers, as libpq writes it:
/// `scheme://user:password@host1:port1,host2:port2,[::1]:port3/path?query`.
///
/// Foundation's URL parser takes one host only, so the list is split off here and the URL handed
/// on with its first host; user, password, path and query are parsed from that as before. Pure:
/// no I/O, no DNS.
public enum HostList {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// A port that is not 1–65535 (the text as written).
        case badPort(String)
        case malformed(String)

        public var description: String {
            switch self {
            case .badPort(let text): "port must be 1–65535, got \"\(text)\""
            case .malformed(let why): why
            }
        }
    }

    /// The URL with only its first host, and every host in the order written.
    public static func split(_ url: String, defaultPort: Int) throws(Failure) -> (url: String, endpoints: [Endpoint]) {
        guard let schemeEnd = url.firstRange(of: "://") else { throw .malformed("missing scheme://") }
        let afterScheme: Substring = url[schemeEnd.upperBound...]
        let ends: Set<Character> = ["/", "?", "#"]
        let authorityEnd = afterScheme.firstIndex { (c: Character) in ends.contains(c) } ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        let userInfo: Substring
        let hostList: Substring
        if let at = authority.lastIndex(of: "@") {
            userInfo = authority[...at]
            hostList = authority[authority.index(after: at)...]
        } else {
            userInfo = ""
            hostList = authority
        }
        var endpoints: [Endpoint] = []
        var written: [Substring] = []
        for item in hostList.split(separator: ",", omittingEmptySubsequences: false) {
            endpoints.append(try endpoint(item, defaultPort: defaultPort))
            written.append(item)
        }
        guard let first = written.first else { throw .malformed("missing host") }
        let rebuilt = String(url[..<schemeEnd.upperBound]) + String(userInfo) + String(first) + String(afterScheme[authorityEnd...])
        return (rebuilt, endpoints)
    }

    private static func endpoint(_ item: Substring, defaultPort: Int) throws(Failure) -> Endpoint {
        let host: Substring
        var portText: Substring?
        if item.hasPrefix("[") {
            guard let close = item.firstIndex(of: "]") else { throw .malformed("unclosed [ in host \"\(item)\"") }
            host = item[item.index(after: item.startIndex)..<close]
            let rest = item[item.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw .malformed("unexpected \"\(rest)\" after host \"\(item)\"") }
                portText = rest.dropFirst()
            }
        } else if let colon = item.lastIndex(of: ":") {
            host = item[..<colon]
            portText = item[item.index(after: colon)...]
        } else {
            host = item
        }
        guard !host.isEmpty else { throw .malformed("missing host") }
        guard let portText else { return Endpoint(host: String(host), port: defaultPort) }
        guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText), (1...65535).contains(port) else {
            throw .badPort(String(portText))
        }
        return Endpoint(host: String(host), port: port)
    }
}

/// A client configuration with a list of servers; `host` and `port` name the first, for the
/// many places that know only one.
public protocol ServerList {
    /// The servers, in the order tried; at least one.
    var endpoints: [Endpoint] { get set }
}

extension ServerList {
    /// The first server's host.
    public var host: String {
        get { endpoints[0].host }
        set { endpoints[0].host = newValue }
    }

    /// The first server's port.
    public var port: Int {
        get { endpoints[0].port }
        set { endpoints[0].port = newValue }
    }
}
