import Domain
import Foundation
import Hummingbird

/// The official receipt, printable (B2: three-part — 存根联 kept by the office, 收据联 for the
/// payer, 记账联 for finance), drawn by the server: one page of HTML with print styles and no
/// script. The browser prints it, or saves it as PDF. A voided receipt says so on every part.
enum ReceiptPage {
    static let parts = [("第一联 存根联", "Stub: kept by the service desk"), ("第二联 收据联", "Receipt: for the payer"),
                        ("第三联 记账联", "Accounts: for finance")]

    static let methods = ["cash": "现金 cash", "card": "刷卡 card", "wechat_pay": "微信支付 WeChat Pay", "alipay": "支付宝 Alipay"]

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func html(_ r: [String: Any]) -> String {
        let number = escape(r["receipt_number"] as? String ?? "")
        let fen = (r["amount_fen"] as? NSNumber)?.int64Value ?? 0
        let amount = Money(fen: fen)
        let forWhat = r["for"] as? [String: Any] ?? [:]
        let description = escape(forWhat["description"] as? String ?? "")
        let place = [forWhat["building"], forWhat["unit"]].compactMap { $0 as? String }.joined(separator: " ")
        let reversals = r["reversals"] as? [[String: Any]] ?? []
        let voided = reversals.contains { $0["kind"] as? String == "void" }
        // The property's own wall clock, as on the desk's paper receipts.
        let paidAt = escape(r["paid_at_local"] as? String ?? "")
        let method = escape(methods[r["method"] as? String ?? ""] ?? r["method"] as? String ?? "")
        let reference = escape(r["method_reference"] as? String ?? "")
        let notes = reversals.map { rv in
            "<p class=\"reversal\">\(rv["kind"] as? String == "void" ? "作废 Void" : "退款 Refund") \(escape(rv["number"] as? String ?? "")): ¥\(escape(rv["amount"] as? String ?? "")) — \(escape(rv["reason"] as? String ?? ""))</p>"
        }.joined()
        let copies = parts.map { zh, en in
            """
            <section class="part\(voided ? " voided" : "")">
              <header><h1>\(escape(r["property_name"] as? String ?? "")) 收款收据</h1><p class="copy">\(zh) · \(en)</p>
                <p class="number">No. <strong>\(number)</strong></p></header>
              <table>
                <tr><th>日期 Date</th><td>\(paidAt)</td><th>付款人 Payer</th><td>\(escape(r["payer"] as? String ?? "")) \(escape(place))</td></tr>
                <tr><th>项目 For</th><td colspan="3">\(description)</td></tr>
                <tr><th>金额 Amount</th><td class="amount">\(escape(amount.display))</td><th>大写</th><td>\(escape(amount.capitals))</td></tr>
                <tr><th>方式 Method</th><td>\(method)</td><th>凭证号 Reference</th><td>\(reference)</td></tr>
              </table>
              \(notes)
              <footer><span>收款人 Received by: \(escape(r["taken_by"] as? String ?? ""))</span><span>（盖章 Stamp）</span></footer>
              \(voided ? "<p class=\"stamp\">作废 VOID</p>" : "")
            </section>
            """
        }.joined(separator: "\n")
        return """
            <!doctype html>
            <html lang="zh-CN"><head><meta charset="utf-8"><title>收据 \(number)</title>
            <style>
            body { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; margin: 0; color: #111; }
            .part { position: relative; border: 1px solid #333; margin: 8mm; padding: 4mm 6mm; height: 78mm; box-sizing: border-box; page-break-inside: avoid; }
            .part + .part { border-top: 1px dashed #333; }
            header { display: flex; justify-content: space-between; align-items: baseline; gap: 4mm; }
            h1 { font-size: 15pt; margin: 0; } .copy { margin: 0; font-size: 9pt; } .number { margin: 0; color: #b00; }
            table { width: 100%; border-collapse: collapse; margin-top: 3mm; font-size: 10pt; }
            th, td { border: 1px solid #777; padding: 1.5mm 2mm; text-align: left; } th { width: 18%; background: #f2f2f2; font-weight: normal; }
            .amount { font-weight: bold; } footer { display: flex; justify-content: space-between; margin-top: 3mm; font-size: 10pt; }
            .reversal { margin: 2mm 0 0; font-size: 9pt; color: #b00; }
            .stamp { position: absolute; top: 22mm; left: 40%; transform: rotate(-15deg); font-size: 30pt; color: rgba(200,0,0,.55); border: 3px solid rgba(200,0,0,.55); padding: 0 4mm; margin: 0; }
            @page { size: A4; margin: 0; }
            @media print { .part { margin: 4mm 8mm; } }
            </style></head>
            <body>
            \(copies)
            </body></html>
            """
    }

    static func response(_ receipt: [String: Any]) -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                                        .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"],
                 body: .init(byteBuffer: ByteBuffer(string: html(receipt))))
    }
}
