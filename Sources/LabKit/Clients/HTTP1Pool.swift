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
import Synchronization

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
        // TLS sends no name for an IP address (SNI carries host names only).
        let isIPAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        self.serverName = serverName ?? (isIPAddress ? nil : host)
        self.connectTimeout = .nanoseconds(Measure.nanoseconds(connectTimeout))
        state = PoolState(limit: self.maxConnections, idleTimeout: idleTimeout)
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
        let deadline = NIODeadline.now() + .nanoseconds(Measure.nanoseconds(timeout))
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
            // Once a connection is granted, connecting, writing and reading are one chain of
            // event-loop futures: the time limit, kept on the event loop, is met even while
            // this task waits for a thread to resume it.
            let exchanged: EventLoopFuture<(PooledConnection, Answer)>
            let inFlight = InFlight()
            switch try await state.grant(deadline: deadline) {
            case .reuse(let connection):
                inFlight.use(connection.channel)
                exchanged = connection.channel.eventLoop.flatSubmit {
                    connection.handler.start(exchange, on: connection.channel)
                        .map { (connection, $0) }
                        .flatMapErrorThrowing { throw FailedExchange(connection: connection, error: $0) }
                }
            case .open:
                exchanged = open(then: exchange, inFlight)
            }
            do {
                let (connection, answer) = try await withTaskCancellationHandler {
                    try await exchanged.get()
                } onCancel: {
                    inFlight.cancel()
                }
                state.checkIn(connection, reusable: answer.keepAlive && !wantsClose)
                return answer.reply
            } catch let failed as FailedExchange {
                state.checkIn(failed.connection, reusable: false)
                if Task.isCancelled { throw CancellationError() }
                if failed.error is StaleConnection {
                    if !retried {
                        retried = true
                        continue
                    }
                    throw HTTP1Error.remoteClosed
                }
                throw failed.error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                throw error
            }
        }
    }

    /// Closes every connection; requests in flight fail, later ones throw `shutDown`.
    public func shutdown() async {
        await state.shutdown()
    }

    /// Opens a connection (the pool has counted it as opening) and starts the exchange on it.
    /// A failure to connect is the pool's (`openFailed`); a failure after it, the connection's.
    private func open(then exchange: Exchange, _ inFlight: InFlight) -> EventLoopFuture<(PooledConnection, Answer)> {
        let state = state
        return bootstrap().connect(host: host, port: port)
            .flatMapErrorThrowing { error in
                state.openFailed()
                throw Self.connectFailure(error)
            }
            .flatMap { channel in
                channel.pipeline.handler(type: ExchangeHandler.self)
                    .flatMapErrorThrowing { _ in
                        // The connection closed before it could be used.
                        channel.close(promise: nil)
                        state.openFailed()
                        throw HTTP1Error.remoteClosed
                    }
                    .flatMap { handler in
                        let connection = state.opened(channel, handler)
                        inFlight.use(channel)
                        return handler.start(exchange, on: channel)
                            .map { (connection, $0) }
                            .flatMapErrorThrowing { throw FailedExchange(connection: connection, error: $0) }
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

/// One open connection in the pool.
struct PooledConnection: Sendable {
    let id: Int
    let channel: any Channel
    let handler: ExchangeHandler
}

/// The connection closed before any byte of the answer, after serving earlier exchanges.
struct StaleConnection: Error {}

/// The connection an exchange runs on, closed when its task is cancelled (which fails the
/// exchange), whether the cancellation comes before the connection is known or after.
final class InFlight: Sendable {
    private let state = NIOLockedValueBox<(channel: (any Channel)?, cancelled: Bool)>((nil, false))

    func use(_ channel: any Channel) {
        if state.withLockedValue({
            $0.channel = channel; return $0.cancelled
        }) {
            channel.close(promise: nil)
        }
    }

    func cancel() {
        state.withLockedValue {
            $0.cancelled = true; return $0.channel
        }?.close(promise: nil)
    }
}

/// An exchange that failed on a connection the pool had handed out.
struct FailedExchange: Error {
    let connection: PooledConnection
    let error: any Error
}

/// The pool's book-keeping: idle connections, how many are open, who waits for one. A
/// lock, not an actor: the pool never needs a thread of Swift's cooperative pool to hand a
/// connection on, so a request's time limit holds even when a busy process's tasks keep
/// those threads (the tests run hundreds at once). Channels are closed and continuations
/// resumed only after the lock is released: closing can call back into the pool.
private final class PoolState: Sendable {
    enum Grant: Sendable { case reuse(PooledConnection), open }

    private struct Waiter {
        let id: Int
        let continuation: CheckedContinuation<Grant, any Error>
        var timer: Scheduled<Void>?
    }

    private struct State {
        var idle: [Int: (connection: PooledConnection, timer: Scheduled<Void>)] = [:]
        var busy: [Int: PooledConnection] = [:]
        var opening = 0
        var nextID = 0
        var waiters: [Waiter] = []
        var cancelled: Set<Int> = []
        var isShutDown = false
        var openCount: Int { idle.count + busy.count + opening }
    }

    /// What to do once the lock is released.
    private struct Effects {
        var close: [any Channel] = []
        var cancel: [Scheduled<Void>] = []
        var resume: [(CheckedContinuation<Grant, any Error>, Result<Grant, any Error>)] = []

        func run() {
            for timer in cancel { timer.cancel() }
            for channel in close { channel.close(promise: nil) }
            for (continuation, result) in resume { continuation.resume(with: result) }
        }
    }

    let limit: Int
    let idleTimeout: TimeAmount
    private let state = Mutex(State())

    init(limit: Int, idleTimeout: Duration) {
        self.limit = limit
        self.idleTimeout = .nanoseconds(Measure.nanoseconds(idleTimeout))
    }

    private enum Decision { case grant(Grant), wait(Int), fail(any Error) }

    func grant(deadline: NIODeadline) async throws -> Grant {
        var effects = Effects()
        let decision: Decision = state.withLock { s in
            if s.isShutDown { return .fail(HTTP1Error.shutDown) }
            while let (id, entry) = s.idle.first {
                s.idle[id] = nil
                effects.cancel.append(entry.timer)
                if entry.connection.channel.isActive {
                    s.busy[id] = entry.connection
                    return .grant(.reuse(entry.connection))
                }
                effects.close.append(entry.connection.channel)
            }
            if s.openCount < limit {
                s.opening += 1
                return .grant(.open)
            }
            s.nextID += 1
            return .wait(s.nextID)
        }
        effects.run()
        switch decision {
        case .grant(let grant): return grant
        case .fail(let error): throw error
        case .wait(let id): return try await wait(id, deadline: deadline)
        }
    }

    /// Waits for a connection to come free, the deadline, or cancellation.
    private func wait(_ id: Int, deadline: NIODeadline) async throws -> Grant {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, any Error>) in
                let cancelledAlready = state.withLock { s in
                    if s.cancelled.remove(id) != nil { return true }
                    s.waiters.append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if cancelledAlready {
                    continuation.resume(throwing: CancellationError())
                    return
                }
                let timer = MultiThreadedEventLoopGroup.singleton.next().scheduleTask(deadline: deadline) {
                    self.abandon(id, because: HTTP1Error.timedOut)
                }
                let stillWaiting = state.withLock { s in
                    guard let index = s.waiters.firstIndex(where: { $0.id == id }) else { return false }
                    s.waiters[index].timer = timer
                    return true
                }
                if !stillWaiting { timer.cancel() }
            }
        } onCancel: {
            abandon(id, because: CancellationError())
        }
    }

    private func abandon(_ id: Int, because error: any Error) {
        let waiter: Waiter? = state.withLock { s in
            if let index = s.waiters.firstIndex(where: { $0.id == id }) { return s.waiters.remove(at: index) }
            if error is CancellationError { s.cancelled.insert(id) }
            return nil
        }
        guard let waiter else { return }
        waiter.timer?.cancel()
        waiter.continuation.resume(throwing: error)
    }

    func opened(_ channel: any Channel, _ handler: ExchangeHandler) -> PooledConnection {
        let (connection, isShutDown) = state.withLock { s in
            s.opening -= 1
            s.nextID += 1
            let connection = PooledConnection(id: s.nextID, channel: channel, handler: handler)
            if !s.isShutDown { s.busy[connection.id] = connection }
            return (connection, s.isShutDown)
        }
        if isShutDown { channel.close(promise: nil) }
        // A connection the server closes while idle leaves the pool at once.
        channel.closeFuture.whenComplete { _ in self.closedWhileIdle(connection.id) }
        return connection
    }

    func openFailed() {
        var effects = Effects()
        state.withLock { s in
            s.opening -= 1
            handOnTheSlot(&s, &effects)
        }
        effects.run()
    }

    func checkIn(_ connection: PooledConnection, reusable: Bool) {
        var effects = Effects()
        state.withLock { s in
            guard s.busy.removeValue(forKey: connection.id) != nil else {
                effects.close.append(connection.channel)
                return
            }
            guard reusable, !s.isShutDown, connection.channel.isActive else {
                effects.close.append(connection.channel)
                handOnTheSlot(&s, &effects)
                return
            }
            if !s.waiters.isEmpty {
                s.busy[connection.id] = connection
                let waiter = s.waiters.removeFirst()
                waiter.timer.map { effects.cancel.append($0) }
                effects.resume.append((waiter.continuation, .success(.reuse(connection))))
                return
            }
            let channel = connection.channel
            let timer = channel.eventLoop.scheduleTask(in: idleTimeout) { channel.close(promise: nil) }
            s.idle[connection.id] = (connection, timer)
        }
        effects.run()
    }

    private func closedWhileIdle(_ id: Int) {
        var effects = Effects()
        state.withLock { s in
            guard let entry = s.idle.removeValue(forKey: id) else { return }
            effects.cancel.append(entry.timer)
            handOnTheSlot(&s, &effects)
        }
        effects.run()
    }

    /// A slot came free (a connection closed or failed to open): the first waiter may open one.
    private func handOnTheSlot(_ s: inout State, _ effects: inout Effects) {
        guard !s.waiters.isEmpty, !s.isShutDown, s.openCount < limit else { return }
        s.opening += 1
        let waiter = s.waiters.removeFirst()
        waiter.timer.map { effects.cancel.append($0) }
        effects.resume.append((waiter.continuation, .success(.open)))
    }

    func shutdown() async {
        var effects = Effects()
        let channels: [any Channel] = state.withLock { s in
            s.isShutDown = true
            for waiter in s.waiters {
                waiter.timer.map { effects.cancel.append($0) }
                effects.resume.append((waiter.continuation, .failure(HTTP1Error.shutDown)))
            }
            s.waiters.removeAll()
            effects.cancel += s.idle.values.map(\.timer)
            let channels = s.idle.values.map(\.connection.channel) + s.busy.values.map(\.channel)
            s.idle.removeAll()
            return channels
        }
        effects.run()
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
