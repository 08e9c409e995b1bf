import KubeAPI
import KubeModels
import NIOCore
import NIOHTTP1
import NIOSSL

/// One connection: answers requests from the simulator, and streams a watch's events with
/// the scripted chunking, pacing and drops. Confined to its channel's event loop.
final class APIHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let box: SimulatorBox
    private var head: HTTPRequestHead?
    private var context: ChannelHandlerContext?

    // The watch being served, if any.
    private var generation = 0
    private var watchActive = false
    private var watchID: Int?
    private var pending = CircularBuffer<ByteBuffer>()
    private var pumping = false
    private var sent = 0
    private var dropAfter: Int?
    private var shape = WatchStreamShape()
    private var timers: [Scheduled<Void>] = []
    private var keepAlive = true

    init(box: SimulatorBox) { self.box = box }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end: if let h = head { handle(context, h) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopWatch()
        context.fireChannelInactive()
    }

    private func handle(_ context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        guard let sim = box.simulator else {
            context.close(promise: nil)
            return
        }
        keepAlive = head.isKeepAlive
        generation += 1
        let sink = makeSink(context, generation: generation)
        let peer = (try? context.pipeline.syncOperations.nioSSL_peerCertificate()).flatMap { $0 }
        let certificateUser = peer.flatMap { try? $0.toDERBytes() }.flatMap(SimulatorCertificates.commonName(der:))
        switch sim.serve(method: head.method, uri: head.uri, headers: head.headers, certificateUser: certificateUser, sink: sink) {
        case .body(let status, let headers, let body):
            var h = HTTPHeaders(headers)
            h.add(name: "Content-Length", value: String(body.readableBytes))
            if !keepAlive { h.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: h))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            if keepAlive {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            } else {
                context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
        case .drop:
            context.close(promise: nil)
        case .watch(let plan):
            var h = HTTPHeaders([("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
            if !keepAlive { h.add(name: "Connection", value: "close") }
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: h))), promise: nil)
            watchActive = true
            watchID = plan.id
            sent = 0
            dropAfter = plan.dropAfterEvents
            shape = plan.shape
            pending.removeAll()
            let loop = context.eventLoop.assumeIsolated()
            timers.append(loop.scheduleTask(in: .seconds(Int64(plan.timeoutSeconds))) { [self] in endWatch() })
            if plan.bookmarks, let id = plan.id {
                let interval = TimeAmount.nanoseconds(Int64(plan.bookmarkInterval.components.seconds) * 1_000_000_000 + plan.bookmarkInterval.components.attoseconds / 1_000_000_000)
                scheduleBookmark(loop, sim, id, interval)
            }
        }
    }

    private func scheduleBookmark(_ loop: NIOIsolatedEventLoop, _ sim: KubeAPISimulator, _ id: Int, _ interval: TimeAmount) {
        timers.append(loop.scheduleTask(in: interval) { [self] in
            guard watchActive, watchID == id else { return }
            sim.bookmark(id)
            scheduleBookmark(loop, sim, id, interval)
        })
    }

    private func makeSink(_ context: ChannelHandlerContext, generation: Int) -> WatchSink {
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        return WatchSink(
            send: { events in loop.execute { bound.value.enqueue(events, generation: generation) } },
            end: { loop.execute { if bound.value.generation == generation { bound.value.endWatch() } } },
            finish: { loop.execute { bound.value.context?.close(promise: nil) } }
        )
    }

    private func enqueue(_ events: [ByteBuffer], generation: Int) {
        guard generation == self.generation, watchActive else { return }
        pending.append(contentsOf: events)
        pump()
    }

    private func pump() {
        guard let context, watchActive, !pumping else { return }
        while !pending.isEmpty, watchActive {
            if let delay = shape.delayPerChunk {
                pumping = true
                let ns = Int64(delay.components.seconds) * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
                timers.append(context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(ns)) { [self] in
                    pumping = false
                    writeChunk()
                    self.context?.flush()
                    pump()
                })
                return
            }
            writeChunk()
        }
        context.flush()
    }

    /// Writes the next `eventsPerChunk` events, cut at the scripted offsets.
    private func writeChunk() {
        guard let context, watchActive, !pending.isEmpty else { return }
        let n = min(max(shape.eventsPerChunk, 1), pending.count)
        var chunk = pending.removeFirst()
        for _ in 1..<max(n, 1) where !pending.isEmpty {
            var next = pending.removeFirst()
            chunk.writeBuffer(&next)
        }
        var cut = 0
        for offset in shape.splitAt.sorted() where offset > cut && offset < chunk.readableBytes {
            if let piece = chunk.getSlice(at: chunk.readerIndex + cut, length: offset - cut) {
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(piece))), promise: nil)
            }
            cut = offset
        }
        if let rest = chunk.getSlice(at: chunk.readerIndex + cut, length: chunk.readableBytes - cut) {
            context.write(wrapOutboundOut(.body(.byteBuffer(rest))), promise: nil)
        }
        sent += n
        if let dropAfter, sent >= dropAfter {
            // A broken connection: no terminal chunk.
            context.flush()
            stopWatch()
            context.close(promise: nil)
        }
    }

    /// Ends the watch response cleanly (server timeout, or an ERROR event was the last word).
    private func endWatch() {
        guard let context, watchActive else { return }
        shape.delayPerChunk = nil
        pumping = false
        while !pending.isEmpty, watchActive { writeChunk() }
        guard watchActive else { return }
        stopWatch()
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    private func stopWatch() {
        watchActive = false
        for t in timers { t.cancel() }
        timers = []
        pending.removeAll()
        if let id = watchID { box.simulator?.unregisterWatch(id) }
        watchID = nil
    }
}
