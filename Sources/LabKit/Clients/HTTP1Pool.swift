// The kit's own HTTP/1.1 client, on SwiftNIO: a pool of keep-alive connections to one
// host and port, plain or TLS. An HTTP/1.1 connection carries one exchange at a time, so
// a client that wants concurrency opens connections, up to a limit, and reuses each one
// for the next request unless either side said `Connection: close`. The labs count those
// connections (http-tuning's relay) and judge what came back byte for byte, so the client
// adds nothing of its own: no redirects followed, no body decompressed, and one retry only,
// of a request whose kept-alive connection closed before any byte of the answer (a server's
// idle time-out meeting the next request, as Go's and curl's clients also retry).
//
// Every exchange has a time limit kept on the connection's event loop: when it passes, the
// connection is closed and the request fails with `HTTP1Error.timedOut`. A cancelled task
// closes its connection the same way. An idle connection is closed after `idleTimeout`.
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// What can go wrong below HTTP; `LoopbackHTTP` turns it into a sentence.
public enum HTTP1Error: Error, Sendable, Equatable {
    case timedOut
    /// The server closed the connection before the answer was complete.
    case remoteClosed
    case connectTimedOut
    case connectionRefused
    /// The answer's body is larger than the request allowed.
    case bodyTooLarge(limit: Int)
    case shutDown
}

/// A pool of HTTP/1.1 connections to one host and port.
public final class HTTP1Pool: Sendable {
    public let host: String
    public let port: Int
    public let maxConnections: Int
    private let sslContext: NIOSSLContext?
    private let serverName: String?
    private let connectTimeout: TimeAmount
    private let state: PoolState
    private let hostHeader: String

    /// - Parameters:
    ///   - tls: speak TLS with this configuration (trust roots, versions); nil for plain TCP.
    ///   - serverName: the name TLS checks the certificate against (and sends as SNI);
    ///     by default `host`, unless it is an IP address.
    ///   - maxConnections: at most this many connections are open at once; further
    ///     requests wait for one to come free.
    public init(
        host: String, port: Int, tls: TLSConfiguration? = nil, serverName: String? = nil,
        maxConnections: Int = 8, idleTimeout: Duration = .seconds(60), connectTimeout: Duration = .seconds(5)
    ) throws {
        self.host = host
        self.port = port
        self.maxConnections = max(1, maxConnections)
        let defaultPort = tls == nil ? 80 : 443
        hostHeader = (host.contains(":") ? "[\(host)]" : host) + (port == defaultPort ? "" : ":\(port)")
        sslContext = try tls.map { try NIOSSLContext(configuration: $0) }
        self.serverName = serverName ?? (Self.isIPAddress(host) ? nil : host)
        self.connectTimeout = .nanoseconds(connectTimeout.nanoseconds)
        state = PoolState(limit: self.maxConnections, idleTimeout: idleTimeout)
    }

    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || (host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." })
    }

    /// Sends one request and collects the whole answer.
    /// - Parameters:
    ///   - path: the request target, `/books?limit=5`.
    ///   - headers: sent as given, after `Host`; `Content-Length` is added for a body.
    ///   - timeout: for the whole exchange, waiting for a free connection included.
    ///   - maxBody: a longer body fails the request with `bodyTooLarge`.
    public func execute(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        timeout: Duration = .seconds(5), maxBody: Int = 8 << 20
    ) async throws -> HTTPReply {
        let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout.nanoseconds))
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
        head.headers.add(name: "Host", value: hostHeader)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        let framed = head.headers.contains(name: "Content-Length") || head.headers.contains(name: "Transfer-Encoding")
        if !framed, body != nil || ["POST", "PUT", "PATCH"].contains(method) {
            head.headers.add(name: "Content-Length", value: String(body?.count ?? 0))
        }
        let wantsClose = head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }

        let exchange = Exchange(head: head, body: body.map { ByteBuffer(bytes: $0) }, deadline: deadline, maxBody: maxBody)
        // A kept-alive connection the server closed just as it was reused (its idle time-out)
        // never saw the request: that one case is tried again, once, on a new connection.
        var retried = false
        while true {
            let connection = try await checkOut(deadline: deadline)
            let channel = connection.channel, handler = connection.handler
            do {
                let answer = try await withTaskCancellationHandler {
                    try await channel.eventLoop.flatSubmit { handler.start(exchange, on: channel) }.get()
                } onCancel: {
                    channel.close(promise: nil)
                }
                await state.checkIn(connection, reusable: answer.keepAlive && !wantsClose)
                return answer.reply
            } catch {
                await state.checkIn(connection, reusable: false)
                if Task.isCancelled { throw CancellationError() }
                if error is StaleConnection {
                    if !retried {
                        retried = true
                        continue
                    }
                    throw HTTP1Error.remoteClosed
                }
                throw error
            }
        }
    }

    /// Closes every connection; requests in flight fail, later ones throw `shutDown`.
    public func shutdown() async {
        await state.shutdown()
    }

    /// An idle connection, a new one, or (at the limit) the next one that comes free.
    private func checkOut(deadline: NIODeadline) async throws -> PooledConnection {
        switch try await state.grant(deadline: deadline) {
        case .reuse(let connection):
            return connection
        case .open:
            do {
                let channel = try await bootstrap().connect(host: host, port: port).get()
                guard let handler = try? await channel.pipeline.handler(type: ExchangeHandler.self).get() else {
                    channel.close(promise: nil)
                    throw HTTP1Error.remoteClosed
                }
                return await state.opened(channel, handler)
            } catch {
                await state.openFailed()
                throw Self.connectFailure(error)
            }
        }
    }

    private func bootstrap() -> ClientBootstrap {
        let sslContext = sslContext, name = serverName
        return ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: name))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler())
                }
            }
    }

    static func connectFailure(_ error: any Error) -> any Error {
        if let e = error as? ChannelError, case .connectTimeout = e { return HTTP1Error.connectTimedOut }
        if let e = error as? NIOConnectionError {
            let errors = e.connectionErrors.map(\.error)
            if errors.contains(where: { ($0 as? IOError)?.errnoCode == ECONNREFUSED }) { return HTTP1Error.connectionRefused }
            if errors.contains(where: { if case ChannelError.connectTimeout = $0 { true } else { false } }) { return HTTP1Error.connectTimedOut }
        }
        if let e = error as? IOError, e.errnoCode == ECONNREFUSED { return HTTP1Error.connectionRefused }
        return error
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product &+ attoseconds / 1_000_000_000
    }
}

/// One open connection in the pool.
struct PooledConnection: Sendable {
    let id: Int
    let channel: any Channel
    let handler: ExchangeHandler
}

/// The connection closed before any byte of the answer, after serving earlier exchanges.
struct StaleConnection: Error {}

/// The pool's book-keeping: idle connections, how many are open, who waits for one.
private actor PoolState {
    enum Grant { case reuse(PooledConnection), open }

    let limit: Int
    let idleTimeout: Duration
    private var idle: [Int: (connection: PooledConnection, timer: Scheduled<Void>)] = [:]
    private var busy: [Int: PooledConnection] = [:]
    private var opening = 0
    private var nextID = 0
    private var waiters: [(id: Int, continuation: CheckedContinuation<Grant, any Error>)] = []
    private var cancelled: Set<Int> = []
    private var isShutDown = false

    init(limit: Int, idleTimeout: Duration) {
        self.limit = limit
        self.idleTimeout = idleTimeout
    }

    private var openCount: Int { idle.count + busy.count + opening }

    func grant(deadline: NIODeadline) async throws -> Grant {
        guard !isShutDown else { throw HTTP1Error.shutDown }
        while let (id, entry) = idle.first {
            idle[id] = nil
            entry.timer.cancel()
            if entry.connection.channel.isActive {
                busy[id] = entry.connection
                return .reuse(entry.connection)
            }
            entry.connection.channel.close(promise: nil)
        }
        if openCount < limit {
            opening += 1
            return .open
        }
        nextID += 1
        let id = nextID
        // Waits for a connection to come free, or for the deadline, or for cancellation.
        let timer = Task { [weak self] in
            let nanos = max(0, deadline.uptimeNanoseconds.subtractingReportingOverflow(NIODeadline.now().uptimeNanoseconds).partialValue)
            try? await Task.sleep(nanoseconds: nanos)
            await self?.abandon(id, because: HTTP1Error.timedOut)
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if cancelled.remove(id) != nil || Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiters.append((id, continuation))
                }
            }
        } onCancel: {
            Task { await self.abandon(id, because: CancellationError()) }
        }
    }

    private func abandon(_ id: Int, because error: any Error) {
        if let index = waiters.firstIndex(where: { $0.id == id }) {
            waiters.remove(at: index).continuation.resume(throwing: error)
        } else if error is CancellationError {
            cancelled.insert(id)
        }
    }

    func opened(_ channel: any Channel, _ handler: ExchangeHandler) -> PooledConnection {
        opening -= 1
        nextID += 1
        let connection = PooledConnection(id: nextID, channel: channel, handler: handler)
        if isShutDown {
            channel.close(promise: nil)
        } else {
            busy[connection.id] = connection
            // A connection the server closes while idle leaves the pool at once.
            channel.closeFuture.whenComplete { _ in Task { await self.closedWhileIdle(connection.id) } }
        }
        return connection
    }

    func openFailed() {
        opening -= 1
        handOnTheSlot()
    }

    func checkIn(_ connection: PooledConnection, reusable: Bool) {
        guard busy.removeValue(forKey: connection.id) != nil else {
            connection.channel.close(promise: nil)
            return
        }
        guard reusable, !isShutDown, connection.channel.isActive else {
            connection.channel.close(promise: nil)
            handOnTheSlot()
            return
        }
        if !waiters.isEmpty {
            busy[connection.id] = connection
            waiters.removeFirst().continuation.resume(returning: .reuse(connection))
            return
        }
        let channel = connection.channel
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(idleTimeout.nanoseconds)) { channel.close(promise: nil) }
        idle[connection.id] = (connection, timer)
    }

    private func closedWhileIdle(_ id: Int) {
        guard let entry = idle.removeValue(forKey: id) else { return }
        entry.timer.cancel()
        handOnTheSlot()
    }

    /// A slot came free (a connection closed or failed to open): the first waiter may open one.
    private func handOnTheSlot() {
        guard !waiters.isEmpty, !isShutDown, openCount < limit else { return }
        opening += 1
        waiters.removeFirst().continuation.resume(returning: .open)
    }

    func shutdown() async {
        isShutDown = true
        for waiter in waiters { waiter.continuation.resume(throwing: HTTP1Error.shutDown) }
        waiters.removeAll()
        let channels = idle.values.map(\.connection.channel) + busy.values.map(\.channel)
        for entry in idle.values { entry.timer.cancel() }
        idle.removeAll()
        for channel in channels { try? await channel.close() }
    }
}

/// One request and what its answer must respect.
struct Exchange: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer?
    var deadline: NIODeadline
    var maxBody: Int
}

/// The answer, and whether the connection may carry another exchange.
struct Answer: Sendable {
    var reply: HTTPReply
    var keepAlive: Bool
}

/// The last handler of a connection's pipeline: writes one exchange's request and collects
/// its answer. Every method runs on the channel's event loop (hence `@unchecked Sendable`).
final class ExchangeHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private var promise: EventLoopPromise<Answer>?
    private var timer: Scheduled<Void>?
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []
    private var maxBody = 0
    private var served = 0
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Writes the request; the future completes with the answer or the reason there is none.
    func start(_ exchange: Exchange, on channel: any Channel) -> EventLoopFuture<Answer> {
        channel.eventLoop.assertInEventLoop()
        let promise = channel.eventLoop.makePromise(of: Answer.self)
        guard let context, channel.isActive else {
            promise.fail(served > 0 ? StaleConnection() : HTTP1Error.remoteClosed)
            return promise.futureResult
        }
        self.promise = promise
        head = nil
        body = []
        maxBody = exchange.maxBody
        timer = channel.eventLoop.scheduleTask(deadline: exchange.deadline) { [self] in
            finish(.failure(HTTP1Error.timedOut))
        }
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if let body = exchange.body, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            // An answer nobody asked for leaves the connection out of step: close it.
            guard promise != nil else {
                context.close(promise: nil)
                return
            }
            // 1xx answers (100 Continue) come before the real one.
            if head.status.code >= 200 || head.status == .switchingProtocols { self.head = head }
        case .body(var buffer):
            guard promise != nil, head != nil else { return }
            if body.count + buffer.readableBytes > maxBody {
                finish(.failure(HTTP1Error.bodyTooLarge(limit: maxBody)))
                return
            }
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            let reply = HTTPReply(
                status: Int(head.status.code), headers: head.headers.map { (name: $0.name, value: $0.value) }, body: body)
            served += 1
            finish(.success(Answer(reply: reply, keepAlive: head.isKeepAlive)))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(served > 0 && head == nil && body.isEmpty ? StaleConnection() : HTTP1Error.remoteClosed))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
    }

    /// Completes the exchange once. A failure closes the connection, which is then in an
    /// unknown state, whether or not an exchange was under way (bytes the server sent
    /// unasked, which the decoder refused, end an idle connection too).
    private func finish(_ result: Result<Answer, any Error>) {
        let promise = self.promise
        self.promise = nil
        timer?.cancel()
        timer = nil
        head = nil
        body = []
        // Closing calls channelInactive, which finds no exchange left to fail.
        if case .failure = result { context?.close(promise: nil) }
        promise?.completeWith(result)
    }
}
