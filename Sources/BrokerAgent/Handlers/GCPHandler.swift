// Google Cloud access tokens for the wrapped command's emulated GCE metadata server.

import BrokerCore
import BrokerWire
import Foundation

struct GCPHandler {
    let service: AgentService

    /// A token must outlive the request that carries it; google-auth itself refreshes 3m45s
    /// before expiry, so short-lived tokens are simply asked for more often.
    static let validity = Validity(minimum: 60, fallback: nil)

    /// The GCP credential of `name` (the service account's email and the access token), or the
    /// sentence saying the identity gives none.
    static func token(of credential: Credential, identity name: String) throws -> (email: String, token: Secret) {
        guard let given = credential.password else {
            throw BrokerFailure(.config, "identity \"\(name)\" does not give a Google Cloud access token")
        }
        return (given.username, given.password)
    }

    /// Answers a metadata request of a live grant: the paths google-auth and gcloud read.
    func metadataReply(path: MetadataPath?, query: String, grant: LoopbackEndpoint.Grant) throws -> LoopbackReply {
        // The ping (GCE_METADATA_IP) and the directory root: what the real server says there.
        guard let path else { return LoopbackReply(status: 200, text: "computeMetadata/\n") }
        let caller = Caller(pid: grant.pid, uid: ProcessInfoLite.userID)
        do {
            let config = try service.loadConfig()
            // The token path is what SDKs ask most: it needs no project or location settings.
            var gcp: GCPDelivery { config.kind(grant.identity)?.delivery.gcp ?? GCPDelivery() }
            let account: String, leaf: MetadataPath.Leaf
            switch path {
            case .projectID:
                return gcp.project.map { LoopbackReply(status: 200, text: $0) } ?? .error(404, "NotFound", "no project is set for this identity")
            case .numericProjectID:
                // gcloud takes a numeric answer here as the sign that it runs on GCE, and uses the
                // metadata server only then; the number itself it does not use for its calls.
                return LoopbackReply(status: 200, text: gcp.projectNumber ?? "0")
            case .universeDomain:
                return LoopbackReply(status: 200, text: "googleapis.com")
            case .zone:
                let delivery = gcp
                return delivery.zone.map { LoopbackReply(status: 200, text: "projects/\(delivery.projectNumber ?? "0")/zones/\($0)") }
                    ?? .error(404, "NotFound", "no zone is set for this identity")
            case .other:
                return .error(404, "NotFound", "not served here")
            case .serviceAccounts:
                (account, leaf) = ("", .directory)
            case .serviceAccount(let name, let asked):
                (account, leaf) = (name, asked)
            }
            let resolution = try service.issuer.issue(grant.identity, in: config, validity: Self.validity, caller: caller, adapter: "gce-metadata")
            let (email, token) = try Self.token(of: resolution.credential, identity: grant.identity)
            let name = email.isEmpty ? "default" : email
            if case .serviceAccounts = path { return LoopbackReply(status: 200, text: "default/\n" + (email.isEmpty ? "" : "\(email)/\n")) }
            guard account == "default" || account == name else { return .error(404, "NotFound", "no such service account here") }
            let scopes = [GCPScopes.cloudPlatform]
            switch leaf {
            case .directory:
                if Self.parameters(query)["recursive"] == "true" {
                    return LoopbackReply(status: 200, body: .object([("aliases", .array([.string("default")])), ("email", .string(name)),
                                                                     ("scopes", .array(scopes.map(JSONValue.string)))]))
                }
                return LoopbackReply(status: 200, text: "aliases\nemail\nidentity\nscopes\ntoken\n")
            case .email:
                return LoopbackReply(status: 200, text: name)
            case .scopes:
                return LoopbackReply(status: 200, text: scopes.joined(separator: "\n") + "\n")
            case .aliases:
                return LoopbackReply(status: 200, text: "default\n")
            case .token:
                let left = max(1, resolution.credential.remaining(at: service.clock.now()) ?? 3600)
                return LoopbackReply(status: 200, body: .object([("access_token", .string(token.reveal())), ("expires_in", .int(left)),
                                                                 ("token_type", .string("Bearer"))]))
            case .identity:
                return try idTokenReply(query: Self.parameters(query), grant: grant, config: config, caller: caller)
            case .other:
                return .error(404, "NotFound", "not served here")
            }
        } catch let wait as MustWait {
            throw wait  // answered again on a thread
        } catch {
            return .error(502, "CredentialsUnavailable", "\(error)".onOneLine)
        }
    }

    static func parameters(_ query: String) -> [String: String] {
        query.isEmpty ? [:] : GCEMetadataRoute.queryParameters(query)
    }

    /// `identity?audience=AUD[&format=full][&licenses=TRUE]`: the raw JWT, as text. `format` and
    /// `licenses` ask the real server for claims about the VM, which a wrapped command has none
    /// of; they are accepted and give the standard claims. An identity that cannot make ID
    /// tokens (a person's login, a federated token without impersonation) is answered 404 with
    /// the reason, as the real server answers 404 where no service account is attached.
    func idTokenReply(query: [String: String], grant: LoopbackEndpoint.Grant, config: BrokerConfig, caller: Caller) throws -> LoopbackReply {
        guard let audience = query["audience"], !audience.isEmpty else {
            return .error(400, "BadRequest", "non-empty audience parameter required")
        }
        do {
            let resolution = try service.issuer.issue(grant.identity, in: config, validity: Self.validity, caller: caller,
                                                      adapter: "gce-metadata", target: "id-token", idTokenAudience: audience)
            return LoopbackReply(status: 200, text: try Self.token(of: resolution.credential, identity: grant.identity).token.reveal())
        } catch let wait as MustWait {
            throw wait  // answered again on a thread
        } catch let failure as BrokerFailure where failure.kind == .config {
            return .error(404, "NotFound", "\(failure)".onOneLine)
        } catch {
            return .error(502, "CredentialsUnavailable", "\(error)".onOneLine)
        }
    }
}
