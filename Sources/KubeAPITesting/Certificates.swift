import Crypto
import Foundation
import KubeModels
import X509

/// A throw-away CA and a server certificate for 127.0.0.1 / ::1 / localhost, made at start-up.
struct SimulatorCertificates: Sendable {
    let caPEM: String
    let serverCertificatePEM: String
    let serverKeyPEM: String
    let caKeyPEM: String
    private let caName: DistinguishedName

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
        self.caName = caName
    }

    /// A client certificate for `user` (the subject CN, as Kubernetes reads it), signed by the CA.
    func issueClientCertificate(user: String) throws -> (certificatePEM: String, keyPEM: String) {
        let now = Date()
        let caKey = try P256.Signing.PrivateKey(pemRepresentation: caKeyPEM)
        let key = P256.Signing.PrivateKey()
        let cert = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + 86400,
            issuer: caName,
            subject: try DistinguishedName { CommonName(user) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.clientAuth])
            },
            issuerPrivateKey: .init(caKey)
        )
        return (try cert.serializeAsPEM().pemString, key.pemRepresentation)
    }

    /// The subject CN of a DER certificate: the user name of client-certificate authentication.
    static func commonName(der: [UInt8]) -> String? {
        guard let cert = try? Certificate(derEncoded: der) else { return nil }
        for rdn in cert.subject {
            for attr in rdn where attr.type == .RDNAttributeType.commonName {
                return String(attr.value)
            }
        }
        return nil
    }
}

import SwiftASN1

enum ASN1OctetStringBytes {
    static let loopbackV4 = ASN1OctetString(contentBytes: [127, 0, 0, 1])
    static let loopbackV6 = ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))
}
