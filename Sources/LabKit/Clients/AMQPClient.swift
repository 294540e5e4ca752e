import CRabbitMQ
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// AMQP 0-9-1 through librabbitmq (rabbitmq-c), the maintained C client, rather than a
/// protocol written by hand: framing, content headers split over frames, field tables,
/// heartbeats and the connection handshake are a few thousand lines the C library has
/// already got right, and a lab about queues should teach queues, not wire encoding.
///
/// The C client is blocking and not thread-safe: one `AMQPConnection` belongs to one thread
/// at a time (a lab's consumer threads each open their own), and is driven from a plain
/// `Thread` (`AMQPThread.run`), never from Swift concurrency's cooperative pool. Everything
/// happens on channel 1.
public final class AMQPConnection: @unchecked Sendable {
    private let state: amqp_connection_state_t
    private var closed = false
    private let channel: amqp_channel_t = 1
    private var confirmSeq: UInt64 = 0

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    private init(state: amqp_connection_state_t) { self.state = state }

    deinit { close() }

    /// Connects and logs in (the broker's default `guest` user, allowed from loopback only)
    /// and opens channel 1.
    public static func open(
        host: String = "127.0.0.1", port: Int, user: String = "guest",
        password: String = "guest", timeout: Double = 10
    ) throws -> AMQPConnection {
        guard let state = amqp_new_connection() else { throw Failure("amqp_new_connection failed") }
        guard let socket = amqp_tcp_socket_new(state) else {
            amqp_destroy_connection(state)
            throw Failure("amqp_tcp_socket_new failed")
        }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        let rc = amqp_socket_open_noblock(socket, host, Int32(port), &tv)
        guard rc == AMQP_STATUS_OK.rawValue else {
            amqp_destroy_connection(state)
            throw Failure("connect \(host):\(port): \(String(cString: amqp_error_string2(rc)))")
        }
        let connection = AMQPConnection(state: state)
        // A broker that stops answering ends in an error, not a hang.
        let fd = amqp_get_sockfd(state)
        var rcv = timeval(tv_sec: timeout >= 10 ? 60 : 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, socklen_t(MemoryLayout<timeval>.size))
        try connection.check(lab_amqp_login(state, "/", user, password), "login")
        amqp_channel_open(state, 1)
        try connection.check(amqp_get_rpc_reply(state), "channel.open")
        return connection
    }

    /// Closes the channel and the connection (politely; the socket is closed whatever the
    /// broker answers). Safe to call twice.
    public func close() {
        guard !closed else { return }
        closed = true
        _ = amqp_channel_close(state, channel, Int32(LAB_AMQP_REPLY_SUCCESS))
        _ = amqp_connection_close(state, Int32(LAB_AMQP_REPLY_SUCCESS))
        amqp_destroy_connection(state)
    }

    // MARK: Topology

    /// Declares a queue; returns its name (the broker's, for `""`) and message count.
    @discardableResult
    public func declareQueue(
        _ name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        arguments: [String: AMQPValue] = [:]
    ) throws -> (name: String, messages: Int, consumers: Int) {
        let ok = try withTable(arguments) { table in
            name.withBytes { q in
                amqp_queue_declare(state, channel, q, 0, durable ? 1 : 0, exclusive ? 1 : 0, autoDelete ? 1 : 0, table)
            }
        }
        try check(amqp_get_rpc_reply(state), "queue.declare \(name)")
        guard let ok else { throw Failure("queue.declare \(name): no reply") }
        return (ok.pointee.queue.string, Int(ok.pointee.message_count), Int(ok.pointee.consumer_count))
    }

    /// The number of ready messages in a queue (a passive declare).
    public func messageCount(_ name: String) throws -> Int {
        let ok = name.withBytes { q in amqp_queue_declare(state, channel, q, 1, 0, 0, 0, amqp_empty_table) }
        try check(amqp_get_rpc_reply(state), "queue.declare passive \(name)")
        return Int(ok?.pointee.message_count ?? 0)
    }

    /// Declares an exchange (`direct`, `fanout`, `topic`, `headers`).
    public func declareExchange(_ name: String, type: String, durable: Bool = true) throws {
        name.withBytes { e in
            type.withBytes { t in _ = amqp_exchange_declare(state, channel, e, t, 0, durable ? 1 : 0, 0, 0, amqp_empty_table) }
        }
        try check(amqp_get_rpc_reply(state), "exchange.declare \(name)")
    }

    public func bind(queue: String, exchange: String, routingKey: String = "") throws {
        queue.withBytes { q in
            exchange.withBytes { e in
                routingKey.withBytes { k in _ = amqp_queue_bind(state, channel, q, e, k, amqp_empty_table) }
            }
        }
        try check(amqp_get_rpc_reply(state), "queue.bind \(queue) → \(exchange)")
    }

    public func deleteQueue(_ name: String) throws {
        name.withBytes { q in _ = amqp_queue_delete(state, channel, q, 0, 0) }
        try check(amqp_get_rpc_reply(state), "queue.delete \(name)")
    }

    public func deleteExchange(_ name: String) throws {
        name.withBytes { e in _ = amqp_exchange_delete(state, channel, e, 0) }
        try check(amqp_get_rpc_reply(state), "exchange.delete \(name)")
    }

    // MARK: Publishing

    /// Publishes one message. `persistent` sets delivery mode 2 (written to disk by a durable
    /// queue); `headers` travel in the message's properties; `expirationMs` is a per-message
    /// TTL (the message expires, or is dead-lettered, that long after entering a queue).
    public func publish(
        exchange: String = "", routingKey: String, body: String, persistent: Bool = true,
        headers: [String: AMQPValue] = [:], messageID: String? = nil, expirationMs: Int? = nil
    ) throws {
        var props = amqp_basic_properties_t()
        props._flags = amqp_flags_t(AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG)
        props.delivery_mode = persistent ? 2 : 1
        let rc: Int32 = try withTable(headers) { table in
            if !headers.isEmpty {
                props._flags |= amqp_flags_t(AMQP_BASIC_HEADERS_FLAG)
                props.headers = table
            }
            return "text/plain".withBytes { ct in
                props.content_type = ct
                return (messageID ?? "").withBytes { mid in
                    if messageID != nil {
                        props._flags |= amqp_flags_t(AMQP_BASIC_MESSAGE_ID_FLAG)
                        props.message_id = mid
                    }
                    return (expirationMs.map { "\(max(0, $0))" } ?? "").withBytes { exp in
                        if expirationMs != nil {
                            props._flags |= amqp_flags_t(AMQP_BASIC_EXPIRATION_FLAG)
                            props.expiration = exp
                        }
                        return exchange.withBytes { e in
                            routingKey.withBytes { k in
                                body.withBytes { b in amqp_basic_publish(state, channel, e, k, 0, 0, &props, b) }
                            }
                        }
                    }
                }
            }
        }
        guard rc == AMQP_STATUS_OK.rawValue else {
            throw Failure("basic.publish: \(String(cString: amqp_error_string2(rc)))")
        }
        if confirmSeq > 0 { confirmSeq += 1 }
    }

    /// Puts the channel in confirm mode: the broker then acks (or nacks) every publish.
    public func confirmSelect() throws {
        amqp_confirm_select(state, channel)
        try check(amqp_get_rpc_reply(state), "confirm.select")
        confirmSeq = 1
    }

    /// Publishes in confirm mode and waits for the broker's answer: true when it took the
    /// message (basic.ack), false when it refused it (basic.nack, e.g. a full queue with
    /// `x-overflow: reject-publish`).
    public func publishConfirmed(
        exchange: String = "", routingKey: String, body: String, persistent: Bool = true,
        headers: [String: AMQPValue] = [:], timeout: Double = 30
    ) throws -> Bool {
        if confirmSeq == 0 { try confirmSelect() }
        let seq = confirmSeq
        try publish(exchange: exchange, routingKey: routingKey, body: body, persistent: persistent, headers: headers)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            var frame = amqp_frame_t()
            var tv = timeval(tv_sec: 1, tv_usec: 0)
            let rc = amqp_simple_wait_frame_noblock(state, &frame, &tv)
            if rc == AMQP_STATUS_TIMEOUT.rawValue {
                guard Date() < deadline else { throw Failure("no publisher confirm within \(Int(timeout)) s") }
                continue
            }
            guard rc == AMQP_STATUS_OK.rawValue else { throw Failure("waiting for a confirm: \(String(cString: amqp_error_string2(rc)))") }
            guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { continue }
            let id = frame.payload.method.id
            if id == LAB_AMQP_BASIC_ACK, let m = frame.payload.method.decoded?.assumingMemoryBound(to: amqp_basic_ack_t.self) {
                if m.pointee.delivery_tag >= seq { return true }
            } else if id == LAB_AMQP_BASIC_NACK, let m = frame.payload.method.decoded?.assumingMemoryBound(to: amqp_basic_nack_t.self) {
                if m.pointee.delivery_tag >= seq { return false }
            } else if id == LAB_AMQP_CHANNEL_CLOSE || id == LAB_AMQP_CONNECTION_CLOSE {
                throw Failure("the broker closed the channel while we waited for a confirm")
            }
        }
    }

    // MARK: Consuming

    /// `basic.qos`: at most `prefetch` unacknowledged messages in flight to this channel's consumers.
    public func qos(prefetch: Int) throws {
        amqp_basic_qos(state, channel, 0, UInt16(prefetch), 0)
        try check(amqp_get_rpc_reply(state), "basic.qos")
    }

    /// Starts a consumer; deliveries then come from `next(timeout:)`. `autoAck` (no-ack): the
    /// broker forgets a message as soon as it sends it.
    @discardableResult
    public func consume(queue: String, autoAck: Bool = false) throws -> String {
        let ok = queue.withBytes { q in amqp_basic_consume(state, channel, q, amqp_empty_bytes, 0, autoAck ? 1 : 0, 0, amqp_empty_table) }
        try check(amqp_get_rpc_reply(state), "basic.consume \(queue)")
        return ok?.pointee.consumer_tag.string ?? ""
    }

    /// The next delivery to this connection's consumers, or nil when none came within `timeout` seconds.
    public func next(timeout: Double) throws -> AMQPDelivery? {
        amqp_maybe_release_buffers(state)
        var envelope = amqp_envelope_t()
        let whole = max(0, timeout)
        var tv = timeval(tv_sec: Int(whole), tv_usec: Int((whole - Double(Int(whole))) * 1e6))
        let reply = amqp_consume_message(state, &envelope, &tv, 0)
        if reply.reply_type == AMQP_RESPONSE_NORMAL {
            defer { amqp_destroy_envelope(&envelope) }
            return AMQPDelivery(
                tag: envelope.delivery_tag, redelivered: envelope.redelivered != 0,
                exchange: envelope.exchange.string, routingKey: envelope.routing_key.string,
                body: envelope.message.body.string, properties: envelope.message.properties)
        }
        if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT.rawValue {
            return nil
        }
        if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue {
            // A frame other than a delivery: a late confirm, a returned message, or a close.
            var frame = amqp_frame_t()
            let rc = amqp_simple_wait_frame(state, &frame)
            guard rc == AMQP_STATUS_OK.rawValue else { throw Failure("reading a frame: \(String(cString: amqp_error_string2(rc)))") }
            if frame.frame_type == UInt8(AMQP_FRAME_METHOD) {
                let id = frame.payload.method.id
                if id == LAB_AMQP_CHANNEL_CLOSE || id == LAB_AMQP_CONNECTION_CLOSE {
                    throw Failure("the broker closed the channel: \(closeText(frame.payload.method))")
                }
                if id == LAB_AMQP_BASIC_RETURN {
                    var message = amqp_message_t()
                    _ = amqp_read_message(state, frame.channel, &message, 0)
                    amqp_destroy_message(&message)
                }
            }
            return try next(timeout: 0)
        }
        try check(reply, "basic.consume")
        return nil
    }

    /// `basic.get`: one message pulled from a queue, or nil when it is empty.
    public func get(queue: String, autoAck: Bool = false) throws -> AMQPDelivery? {
        amqp_maybe_release_buffers(state)
        let reply = queue.withBytes { q in amqp_basic_get(state, channel, q, autoAck ? 1 : 0) }
        try check(reply, "basic.get \(queue)")
        guard reply.reply.id == LAB_AMQP_BASIC_GET_OK,
            let ok = reply.reply.decoded?.assumingMemoryBound(to: amqp_basic_get_ok_t.self)
        else { return nil }
        let tag = ok.pointee.delivery_tag, redelivered = ok.pointee.redelivered != 0
        let exchange = ok.pointee.exchange.string, key = ok.pointee.routing_key.string
        var message = amqp_message_t()
        try check(amqp_read_message(state, channel, &message, 0), "basic.get body")
        defer { amqp_destroy_message(&message) }
        return AMQPDelivery(
            tag: tag, redelivered: redelivered, exchange: exchange, routingKey: key,
            body: message.body.string, properties: message.properties)
    }

    public func ack(_ delivery: AMQPDelivery) throws {
        try status(amqp_basic_ack(state, channel, delivery.tag, 0), "basic.ack")
    }

    /// `basic.nack`: refuses a delivery; `requeue: false` dead-letters it (or drops it when
    /// the queue has no dead-letter exchange).
    public func nack(_ delivery: AMQPDelivery, requeue: Bool) throws {
        try status(amqp_basic_nack(state, channel, delivery.tag, 0, requeue ? 1 : 0), "basic.nack")
    }

    public func reject(_ delivery: AMQPDelivery, requeue: Bool) throws {
        try status(amqp_basic_reject(state, channel, delivery.tag, requeue ? 1 : 0), "basic.reject")
    }

    // MARK: Helpers

    private func status(_ rc: Int32, _ what: String) throws {
        guard rc == AMQP_STATUS_OK.rawValue else { throw Failure("\(what): \(String(cString: amqp_error_string2(rc)))") }
    }

    private func check(_ reply: amqp_rpc_reply_t, _ what: String) throws {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_NONE:
            throw Failure("\(what): no reply from the broker")
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw Failure("\(what): \(String(cString: amqp_error_string2(reply.library_error)))")
        default:
            throw Failure("\(what): the broker refused: \(closeText(reply.reply))")
        }
    }

    private func closeText(_ method: amqp_method_t) -> String {
        if method.id == LAB_AMQP_CHANNEL_CLOSE, let m = method.decoded?.assumingMemoryBound(to: amqp_channel_close_t.self) {
            return "\(m.pointee.reply_code) \(m.pointee.reply_text.string)"
        }
        if method.id == LAB_AMQP_CONNECTION_CLOSE, let m = method.decoded?.assumingMemoryBound(to: amqp_connection_close_t.self) {
            return "\(m.pointee.reply_code) \(m.pointee.reply_text.string)"
        }
        return String(format: "method 0x%08x", method.id)
    }

    /// Calls `body` with `values` as an AMQP field table, valid only during the call.
    private func withTable<T>(_ values: [String: AMQPValue], _ body: (amqp_table_t) throws -> T) rethrows -> T {
        if values.isEmpty { return try body(amqp_empty_table) }
        var owned: [UnsafeMutablePointer<CChar>] = []
        defer { owned.forEach { free($0) } }
        func bytes(_ s: String) -> amqp_bytes_t {
            let p = strdup(s)!
            owned.append(p)
            return amqp_bytes_t(len: strlen(p), bytes: UnsafeMutableRawPointer(p))
        }
        var entries: [amqp_table_entry_t] = values.sorted { $0.key < $1.key }.map { key, value in
            var entry = amqp_table_entry_t()
            entry.key = bytes(key)
            switch value {
            case let .string(s):
                entry.value.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
                entry.value.value.bytes = bytes(s)
            case let .int(i):
                entry.value.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
                entry.value.value.i64 = Int64(i)
            case let .bool(b):
                entry.value.kind = UInt8(AMQP_FIELD_KIND_BOOLEAN.rawValue)
                entry.value.value.boolean = b ? 1 : 0
            }
            return entry
        }
        return try entries.withUnsafeMutableBufferPointer { buffer in
            try body(amqp_table_t(num_entries: Int32(buffer.count), entries: buffer.baseAddress))
        }
    }
}

/// A value in an AMQP field table (queue arguments, message headers).
public enum AMQPValue: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case bool(Bool)

    public var description: String {
        switch self {
        case let .string(s): return s
        case let .int(i): return "\(i)"
        case let .bool(b): return "\(b)"
        }
    }

    public var intValue: Int? { if case let .int(i) = self { return i }; return nil }
}

/// One message handed to a consumer (or fetched with `basic.get`).
public struct AMQPDelivery: Sendable {
    /// Acknowledge, nack or reject with this, on the channel that received it.
    public var tag: UInt64
    /// Set by the broker when the message was delivered before and not acknowledged.
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var body: String
    /// The message's headers: integers, strings and booleans (other kinds are left out).
    public var headers: [String: AMQPValue]
    public var messageID: String?

    init(tag: UInt64, redelivered: Bool, exchange: String, routingKey: String, body: String, properties: amqp_basic_properties_t) {
        self.tag = tag; self.redelivered = redelivered; self.exchange = exchange; self.routingKey = routingKey
        self.body = body
        var headers: [String: AMQPValue] = [:]
        if properties._flags & amqp_flags_t(AMQP_BASIC_HEADERS_FLAG) != 0, let entries = properties.headers.entries {
            for i in 0..<Int(properties.headers.num_entries) {
                let e = entries[i]
                let key = e.key.string
                switch Int(e.value.kind) {
                case Int(AMQP_FIELD_KIND_UTF8.rawValue), Int(AMQP_FIELD_KIND_BYTES.rawValue):
                    headers[key] = .string(e.value.value.bytes.string)
                case Int(AMQP_FIELD_KIND_I64.rawValue): headers[key] = .int(Int(e.value.value.i64))
                case Int(AMQP_FIELD_KIND_U64.rawValue): headers[key] = .int(Int(e.value.value.u64))
                case Int(AMQP_FIELD_KIND_I32.rawValue): headers[key] = .int(Int(e.value.value.i32))
                case Int(AMQP_FIELD_KIND_U32.rawValue): headers[key] = .int(Int(e.value.value.u32))
                case Int(AMQP_FIELD_KIND_I16.rawValue): headers[key] = .int(Int(e.value.value.i16))
                case Int(AMQP_FIELD_KIND_I8.rawValue): headers[key] = .int(Int(e.value.value.i8))
                case Int(AMQP_FIELD_KIND_BOOLEAN.rawValue): headers[key] = .bool(e.value.value.boolean != 0)
                default: break
                }
            }
        }
        self.headers = headers
        if properties._flags & amqp_flags_t(AMQP_BASIC_MESSAGE_ID_FLAG) != 0 { messageID = properties.message_id.string }
    }
}

/// Runs blocking work (the C client) on a thread of its own and awaits its result, so the
/// cooperative pool of Swift concurrency never blocks on a socket.
public enum AMQPThread {
    public static func run<T: Sendable>(_ name: String = "labkit.amqp", _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = name
            thread.stackSize = 1 << 20
            thread.start()
        }
    }
}

extension amqp_bytes_t {
    var string: String {
        guard len > 0, let bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: len), as: UTF8.self)
    }
}

extension String {
    /// The string's UTF-8 bytes as `amqp_bytes_t`, valid during the call.
    func withBytes<T>(_ body: (amqp_bytes_t) throws -> T) rethrows -> T {
        var copy = self
        return try copy.withUTF8 { buffer in
            try body(amqp_bytes_t(len: buffer.count, bytes: UnsafeMutableRawPointer(mutating: buffer.baseAddress)))
        }
    }
}
