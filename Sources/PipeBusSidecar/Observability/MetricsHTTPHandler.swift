import NIOCore
import NIOHTTP1

/// What the metrics server answers with; the closures run on the server's event loop, so they
/// must be quick (rendering the metrics is well under a millisecond).
struct MetricsHTTPRoutes: Sendable {
    var metrics: @Sendable () -> String
    var health: @Sendable () -> (status: Int, body: String)
}

/// Answers one HTTP/1.1 request at a time on a connection (NIO's pipeline helper queues pipelined
/// ones): `GET /metrics`, `GET /healthz`, 404 for other paths, 405 for other methods.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    private let routes: MetricsHTTPRoutes
    private var request: HTTPRequestHead?

    init(routes: MetricsHTTPRoutes) {
        self.routes = routes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break  // No route takes a body; it is read and dropped.
        case .end:
            guard let head = request else { return }
            request = nil
            respond(to: head, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let (status, contentType, body) = Self.route(head, routes: routes)
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)

        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        if status == .methodNotAllowed { headers.add(name: "Allow", value: "GET") }
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }

        let responseHead = HTTPResponseHead(version: head.version, status: status, headers: headers)
        context.write(Self.wrapOutboundOut(.head(responseHead)), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let written = context.writeAndFlush(Self.wrapOutboundOut(.end(nil)))
        if !keepAlive {
            // Close only once the response is out; closing at once could drop it.
            let boundContext = context.loopBound
            written.whenComplete { _ in boundContext.value.close(promise: nil) }
        }
    }

    static func route(
        _ head: HTTPRequestHead,
        routes: MetricsHTTPRoutes
    ) -> (status: HTTPResponseStatus, contentType: String, body: String) {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let plain = "text/plain; charset=utf-8"
        guard path == "/metrics" || path == "/healthz" else { return (.notFound, plain, "not found\n") }
        guard head.method == .GET else { return (.methodNotAllowed, plain, "method not allowed\n") }
        if path == "/metrics" { return (.ok, metricsContentType, routes.metrics()) }
        let health = routes.health()
        return (HTTPResponseStatus(statusCode: health.status), plain, health.body)
    }
}
