import Crypto
import Foundation
import X509

/// A throw-away CA and a server certificate for 127.0.0.1 / ::1 / localhost, made at start-up.
struct SimulatorCertificates: Sendable {
    let caPEM: String
    let serverCertificatePEM: String
    let serverKeyPEM: String
    let caKeyPEM: String

    init(hostnames: [String] = ["localhost"], loopbackAddresses: Bool = true, commonName: String = "sluice-kubeapi-simulator") throws {
        let now = Date()
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("\(commonName) CA") }
        let ca = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(caKey.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + 86400 * 7,
            issuer: caName,
            subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(caKey)
        )
        let serverKey = P256.Signing.PrivateKey()
        var names: [GeneralName] = hostnames.map { .dnsName($0) }
        if loopbackAddresses {
            names.append(.ipAddress(ASN1OctetStringBytes.loopbackV4))
            names.append(.ipAddress(ASN1OctetStringBytes.loopbackV6))
        }
        let server = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(serverKey.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + 86400 * 7,
            issuer: caName,
            subject: try DistinguishedName { CommonName("kube-apiserver") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(caKey)
        )
        caPEM = try ca.serializeAsPEM().pemString
        serverCertificatePEM = try server.serializeAsPEM().pemString
        serverKeyPEM = serverKey.pemRepresentation
        caKeyPEM = caKey.pemRepresentation
    }
}

import SwiftASN1

enum ASN1OctetStringBytes {
    static let loopbackV4 = ASN1OctetString(contentBytes: [127, 0, 0, 1])
    static let loopbackV6 = ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))
}
