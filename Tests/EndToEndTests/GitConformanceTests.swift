// git's own conformance suite for credential helpers (t/lib-credential.sh, as of git 2.46+),
// case for case, against `credential.helper = broker` with no broker config: every URL is
// unbound, so the helper must behave exactly like `git credential-cache`.
//
// Each test method is one of git's test groups (helper_test, helper_test_timeout,
// helper_test_password_expiry_utc, helper_test_oauth_refresh_token, helper_test_authtype) and
// runs its cases in git's order against one sandbox, because git's cases build on each other.
// GitConformanceKeyringTests.swift runs the same groups with `[git] store = keyring` on the
// file and system keyrings.
// Each group runs twice where it matters:
//   * "ThroughGit": `git credential fill/approve/reject` with this machine's git (2.39), which
//     drops password_expiry_utc (< 2.40), oauth_refresh_token (< 2.41) and
//     capability[]/authtype/credential/ephemeral (< 2.46) before they reach a helper. Those
//     groups state what git 2.39 carries and expects.
//   * "FedToTheHelper": the same conversation as git ≥ 2.46 holds it with the helper:
//     `git-credential-broker get/store/erase` with git's stdin, and the helper's exact answer
//     (credential-cache's daemon prints `capability[]=authtype` first, then username, password,
//     authtype and credential for a capable caller, password_expiry_utc, oauth_refresh_token).

import XCTest

class GitConformanceTests: XCTestCase {
    /// The world every group runs in: no broker config, so every URL is unbound and the store is
    /// credential-cache's memory. Subclasses run the same groups against another store.
    func makeSandbox() throws -> Sandbox { Sandbox() }
    /// A keyring keeps what git approved until git erases it, as git-credential-libsecret does
    /// (git's t0303 skips helper_test_timeout for such helpers); the timeout groups say so.
    var keepsPastTimeout: Bool { false }

    /// 1024 - 23, as lib-credential.sh computes it for GIT_TEST_LONG_CRED_BUFFER=1024.
    static let longValue = String(repeating: "a", count: 1024 - 23)

    // MARK: helper_test

    func testHelperTestThroughGit() throws {
        let c = CredentialConversation(try makeSandbox())

        c.test("has no existing data")
        c.check(.fill, """
            protocol=https
            host=example.com
            --
            protocol=https
            host=example.com
            username=askpass-username
            password=askpass-password
            --
            askpass: Username for 'https://example.com':
            askpass: Password for 'https://askpass-username@example.com':
            """)

        c.test("stores password")
        c.check(.approve, """
            protocol=https
            host=example.com
            username=store-user
            password=store-pass
            """)

        c.test("can retrieve password")
        c.check(.fill, """
            protocol=https
            host=example.com
            --
            protocol=https
            host=example.com
            username=store-user
            password=store-pass
            --
            """)

        c.test("requires matching protocol")
        c.check(.fill, """
            protocol=http
            host=example.com
            --
            protocol=http
            host=example.com
            username=askpass-username
            password=askpass-password
            --
            askpass: Username for 'http://example.com':
            askpass: Password for 'http://askpass-username@example.com':
            """)

        c.test("requires matching host")
        c.check(.fill, """
            protocol=https
            host=other.tld
            --
            protocol=https
            host=other.tld
            username=askpass-username
            password=askpass-password
            --
            askpass: Username for 'https://other.tld':
            askpass: Password for 'https://askpass-username@other.tld':
            """)

        c.test("requires matching username")
        c.check(.fill, """
            protocol=https
            host=example.com
            username=other
            --
            protocol=https
            host=example.com
            username=other
            password=askpass-password
            --
            askpass: Password for 'https://other@example.com':
            """)

        c.test("requires matching path")
        c.check(.approve, """
            protocol=http
            host=path.tld
            path=foo.git
            username=user
            password=pass
            """, config: ["credential.usehttppath=true"])
        c.check(.fill, """
            protocol=http
            host=path.tld
            path=bar.git
            --
            protocol=http
            host=path.tld
            path=bar.git
            username=askpass-username
            password=askpass-password
            --
            askpass: Username for 'http://path.tld/bar.git':
            askpass: Password for 'http://askpass-username@path.tld/bar.git':
            """, config: ["credential.usehttppath=true"])

        c.test("overwrites on store")
        c.check(.approve, """
            protocol=https
            host=example.com
            username=user-overwrite
            password=pass1
            """)
        c.check(.approve, """
            protocol=https
            host=example.com
            username=user-overwrite
            password=pass2
            """)
        c.check(.fill, """
            protocol=https
            host=example.com
            username=user-overwrite
            --
            protocol=https
            host=example.com
            username=user-overwrite
            password=pass2
            """)
        c.check(.reject, """
            protocol=https
            host=example.com
            username=user-overwrite
            password=pass2
            """)
        c.check(.fill, """
            protocol=https
            host=example.com
            username=user-overwrite
            --
            protocol=https
            host=example.com
            username=user-overwrite
            password=askpass-password
            --
            askpass: Password for 'https://user-overwrite@example.com':
            """)

        c.test("can forget host")
        c.check(.reject, """
            protocol=https
            host=example.com
            """)
        c.check(.fill, """
            protocol=https
            host=example.com
            --
            protocol=https
            host=example.com
            username=askpass-username
            password=askpass-password
            --
            askpass: Username for 'https://example.com':
            askpass: Password for 'https://askpass-username@example.com':
            """)

        c.test("can store multiple users")
        c.check(.approve, """
            protocol=https
            host=example.com
            username=user1
            password=pass1
            """)
        c.check(.approve, """
            protocol=https
            host=example.com
            username=user2
            password=pass2
            """)
        c.check(.fill, """
            protocol=https
            host=example.com
            username=user1
            --
            protocol=https
            host=example.com
            username=user1
            password=pass1
            """)
        c.check(.fill, """
            protocol=https
            host=example.com
            username=user2
            --
            protocol=https
            host=example.com
            username=user2
            password=pass2
            """)

        c.test("does not erase a password distinct from input")
        c.check(.approve, """
            protocol=https
            host=example.com
            username=user-distinct-pass
            password=pass1
            """)
        c.check(.reject, """
            protocol=https
            host=example.com
            username=user-distinct-pass
            password=pass2
            """)
        c.check(.fill, """
            protocol=https
            host=example.com
            username=user-distinct-pass
            --
            protocol=https
            host=example.com
            username=user-distinct-pass
            password=pass1
            """)

        c.test("can forget user")
        c.check(.reject, """
            protocol=https
            host=example.com
            username=user1
            """)
        c.check(.fill, """
            protocol=https
            host=example.com
            username=user1
            --
            protocol=https
            host=example.com
            username=user1
            password=askpass-password
            --
            askpass: Password for 'https://user1@example.com':
            """)

        c.test("remembers other user")
        c.check(.fill, """
            protocol=https
            host=example.com
            username=user2
            --
            protocol=https
            host=example.com
            username=user2
            password=pass2
            """)

        c.test("can store empty username")
        c.check(.approve, """
            protocol=https
            host=sso.tld
            username=
            password=
            """)
        c.check(.fill, """
            protocol=https
            host=sso.tld
            --
            protocol=https
            host=sso.tld
            username=
            password=
            """)

        c.test("erases all matching credentials")
        c.check(.approve, """
            protocol=https
            host=example.com
            username=user-erase1
            password=pass1
            """)
        c.check(.approve, """
            protocol=https
            host=example.com
            username=user-erase2
            password=pass1
            """)
        c.check(.reject, """
            protocol=https
            host=example.com
            """)
        c.check(.fill, """
            protocol=https
            host=example.com
            --
            protocol=https
            host=example.com
            username=askpass-username
            password=askpass-password
            --
            askpass: Username for 'https://example.com':
            askpass: Password for 'https://askpass-username@example.com':
            """)

        // git 2.39 drops wwwauth[] (it reads it from 2.41 on): what reaches the helper is the
        // host alone. The same case fed to the helper, wwwauth[] included, is below.
        c.test("not confused by long header")
        c.check(.approve, """
            protocol=https
            host=victim.example.com
            username=user
            password=to-be-stolen
            """)
        c.check(.fill, """
            protocol=https
            host=badguy.example.com
            wwwauth[]=basic realm=\(Self.longValue)host=victim.example.com
            --
            protocol=https
            host=badguy.example.com
            username=askpass-username
            password=askpass-password
            --
            askpass: Username for 'https://badguy.example.com':
            askpass: Password for 'https://askpass-username@badguy.example.com':
            """)
    }

    /// helper_test as git ≥ 2.46 runs it against the helper: `fill` becomes `get` (whose empty
    /// answer is where git falls back to askpass), `approve` becomes `store`, `reject` `erase`.
    func testHelperTestFedToTheHelper() throws {
        let c = CredentialConversation(try makeSandbox())

        c.test("has no existing data")
        c.check(.get, """
            protocol=https
            host=example.com
            --
            --
            """)

        c.test("stores password")
        c.check(.store, """
            protocol=https
            host=example.com
            username=store-user
            password=store-pass
            """)

        c.test("can retrieve password")
        c.check(.get, """
            protocol=https
            host=example.com
            --
            capability[]=authtype
            username=store-user
            password=store-pass
            --
            """)

        c.test("requires matching protocol")
        c.check(.get, """
            protocol=http
            host=example.com
            --
            """)

        c.test("requires matching host")
        c.check(.get, """
            protocol=https
            host=other.tld
            --
            """)

        c.test("requires matching username")
        c.check(.get, """
            protocol=https
            host=example.com
            username=other
            --
            """)

        c.test("requires matching path")
        c.check(.store, """
            protocol=http
            host=path.tld
            path=foo.git
            username=user
            password=pass
            """)
        c.check(.get, """
            protocol=http
            host=path.tld
            path=bar.git
            --
            """)

        c.test("overwrites on store")
        c.check(.store, """
            protocol=https
            host=example.com
            username=user-overwrite
            password=pass1
            """)
        c.check(.store, """
            protocol=https
            host=example.com
            username=user-overwrite
            password=pass2
            """)
        c.check(.get, """
            protocol=https
            host=example.com
            username=user-overwrite
            --
            capability[]=authtype
            username=user-overwrite
            password=pass2
            """)
        c.check(.erase, """
            protocol=https
            host=example.com
            username=user-overwrite
            password=pass2
            """)
        c.check(.get, """
            protocol=https
            host=example.com
            username=user-overwrite
            --
            """)

        c.test("can forget host")
        c.check(.erase, """
            protocol=https
            host=example.com
            """)
        c.check(.get, """
            protocol=https
            host=example.com
            --
            """)

        c.test("can store multiple users")
        c.check(.store, """
            protocol=https
            host=example.com
            username=user1
            password=pass1
            """)
        c.check(.store, """
            protocol=https
            host=example.com
            username=user2
            password=pass2
            """)
        c.check(.get, """
            protocol=https
            host=example.com
            username=user1
            --
            capability[]=authtype
            username=user1
            password=pass1
            """)
        c.check(.get, """
            protocol=https
            host=example.com
            username=user2
            --
            capability[]=authtype
            username=user2
            password=pass2
            """)
        // Not one of git's cases: without a username the daemon answers the first entry it holds.
        c.check(.get, """
            protocol=https
            host=example.com
            --
            capability[]=authtype
            username=user1
            password=pass1
            """)

        c.test("does not erase a password distinct from input")
        c.check(.store, """
            protocol=https
            host=example.com
            username=user-distinct-pass
            password=pass1
            """)
        c.check(.erase, """
            protocol=https
            host=example.com
            username=user-distinct-pass
            password=pass2
            """)
        c.check(.get, """
            protocol=https
            host=example.com
            username=user-distinct-pass
            --
            capability[]=authtype
            username=user-distinct-pass
            password=pass1
            """)

        c.test("can forget user")
        c.check(.erase, """
            protocol=https
            host=example.com
            username=user1
            """)
        c.check(.get, """
            protocol=https
            host=example.com
            username=user1
            --
            """)

        c.test("remembers other user")
        c.check(.get, """
            protocol=https
            host=example.com
            username=user2
            --
            capability[]=authtype
            username=user2
            password=pass2
            """)

        c.test("can store empty username")
        c.check(.store, """
            protocol=https
            host=sso.tld
            username=
            password=
            """)
        c.check(.get, """
            protocol=https
            host=sso.tld
            --
            capability[]=authtype
            username=
            password=
            """)

        c.test("erases all matching credentials")
        c.check(.store, """
            protocol=https
            host=example.com
            username=user-erase1
            password=pass1
            """)
        c.check(.store, """
            protocol=https
            host=example.com
            username=user-erase2
            password=pass1
            """)
        c.check(.erase, """
            protocol=https
            host=example.com
            """)
        c.check(.get, """
            protocol=https
            host=example.com
            --
            """)

        c.test("not confused by long header")
        c.check(.store, """
            protocol=https
            host=victim.example.com
            username=user
            password=to-be-stolen
            """)
        c.check(.get, """
            protocol=https
            host=badguy.example.com
            wwwauth[]=basic realm=\(Self.longValue)host=victim.example.com
            --
            """)
    }

    // MARK: helper_test_timeout

    func testHelperTestTimeoutThroughGit() throws {
        let c = CredentialConversation(try makeSandbox(), helperArguments: "--timeout=1")
        c.test("times out")
        c.check(.approve, """
            protocol=https
            host=timeout.tld
            username=user
            password=pass
            """)
        sleep(2)
        if keepsPastTimeout {
            c.check(.fill, """
                protocol=https
                host=timeout.tld
                --
                protocol=https
                host=timeout.tld
                username=user
                password=pass
                --
                """)
            return
        }
        c.check(.fill, """
            protocol=https
            host=timeout.tld
            --
            protocol=https
            host=timeout.tld
            username=askpass-username
            password=askpass-password
            --
            askpass: Username for 'https://timeout.tld':
            askpass: Password for 'https://askpass-username@timeout.tld':
            """)
    }

    func testHelperTestTimeoutFedToTheHelper() throws {
        let c = CredentialConversation(try makeSandbox(), helperArguments: "--timeout=1")
        c.test("times out")
        c.check(.store, """
            protocol=https
            host=timeout.tld
            username=user
            password=pass
            """)
        sleep(2)
        c.check(.get, keepsPastTimeout ? """
            protocol=https
            host=timeout.tld
            --
            capability[]=authtype
            username=user
            password=pass
            --
            """ : """
            protocol=https
            host=timeout.tld
            --
            """)
    }

    // MARK: helper_test_password_expiry_utc

    func testPasswordExpiryUTCFedToTheHelper() throws {
        let c = CredentialConversation(try makeSandbox())

        c.test("stores password_expiry_utc")
        c.check(.store, """
            protocol=https
            host=example.com
            username=user-expiry
            password=pass
            password_expiry_utc=9999999999
            """)

        c.test("gets password_expiry_utc")
        c.check(.get, """
            protocol=https
            host=example.com
            username=user-expiry
            --
            capability[]=authtype
            username=user-expiry
            password=pass
            password_expiry_utc=9999999999
            --
            """)

        c.test("overwrites when password_expiry_utc changes")
        c.check(.store, """
            protocol=https
            host=example.com
            username=user-expiry-overwrite
            password=pass1
            password_expiry_utc=9999999998
            """)
        c.check(.store, """
            protocol=https
            host=example.com
            username=user-expiry-overwrite
            password=pass2
            password_expiry_utc=9999999999
            """)
        c.check(.get, """
            protocol=https
            host=example.com
            username=user-expiry-overwrite
            --
            capability[]=authtype
            username=user-expiry-overwrite
            password=pass2
            password_expiry_utc=9999999999
            """)
        c.check(.erase, """
            protocol=https
            host=example.com
            username=user-expiry-overwrite
            password=pass2
            """)
        c.check(.get, """
            protocol=https
            host=example.com
            username=user-expiry-overwrite
            --
            """)

        // Not git's cases; credential-cache's daemon behaves so. An expiry in the past is handed
        // back as stored: git ≥ 2.40 drops the password itself and keeps the username, so the
        // person is asked only for a password. A value credential_read() parses as 0 or not at
        // all means "no expiry".
        c.test("hands back a past expiry for git to discard")
        c.check(.store, """
            protocol=https
            host=expired.tld
            username=user-expired
            password=old-pass
            password_expiry_utc=1000
            """)
        c.check(.get, """
            protocol=https
            host=expired.tld
            --
            capability[]=authtype
            username=user-expired
            password=old-pass
            password_expiry_utc=1000
            """)
        c.test("ignores an expiry that is not a timestamp")
        c.check(.store, """
            protocol=https
            host=no-expiry.tld
            username=u
            password=p
            password_expiry_utc=soon
            """)
        c.check(.get, """
            protocol=https
            host=no-expiry.tld
            --
            capability[]=authtype
            username=u
            password=p
            """)
    }

    /// git 2.39 drops password_expiry_utc on approve and never asks for it: the password is
    /// stored and handed back, without an expiry.
    func testPasswordExpiryUTCThroughGit() throws {
        let c = CredentialConversation(try makeSandbox())

        c.test("stores password_expiry_utc")
        c.check(.approve, """
            protocol=https
            host=example.com
            username=user-expiry
            password=pass
            password_expiry_utc=9999999999
            """)

        c.test("gets password_expiry_utc (git 2.39 carries no expiry)")
        c.check(.fill, """
            protocol=https
            host=example.com
            username=user-expiry
            --
            protocol=https
            host=example.com
            username=user-expiry
            password=pass
            --
            """)

        c.test("overwrites when password_expiry_utc changes")
        c.check(.approve, """
            protocol=https
            host=example.com
            username=user-expiry-overwrite
            password=pass1
            password_expiry_utc=9999999998
            """)
        c.check(.approve, """
            protocol=https
            host=example.com
            username=user-expiry-overwrite
            password=pass2
            password_expiry_utc=9999999999
            """)
        c.check(.fill, """
            protocol=https
            host=example.com
            username=user-expiry-overwrite
            --
            protocol=https
            host=example.com
            username=user-expiry-overwrite
            password=pass2
            """)
        c.check(.reject, """
            protocol=https
            host=example.com
            username=user-expiry-overwrite
            password=pass2
            """)
        c.check(.fill, """
            protocol=https
            host=example.com
            username=user-expiry-overwrite
            --
            protocol=https
            host=example.com
            username=user-expiry-overwrite
            password=askpass-password
            --
            askpass: Password for 'https://user-expiry-overwrite@example.com':
            """)

        // A credential stored with an expiry by a newer git sharing the agent reaches git 2.39 as
        // a plain username and password.
        c.test("an expiry stored by git ≥ 2.40 is invisible to git 2.39")
        c.check(.store, """
            protocol=https
            host=newer-git.tld
            username=u
            password=p
            password_expiry_utc=9999999999
            """)
        c.check(.fill, """
            protocol=https
            host=newer-git.tld
            --
            protocol=https
            host=newer-git.tld
            username=u
            password=p
            """)
    }

    // MARK: helper_test_oauth_refresh_token

    func testOAuthRefreshTokenFedToTheHelper() throws {
        let c = CredentialConversation(try makeSandbox())

        c.test("stores oauth_refresh_token")
        c.check(.store, """
            protocol=https
            host=example.com
            username=user4
            password=pass
            oauth_refresh_token=xyzzy
            """)

        c.test("gets oauth_refresh_token")
        c.check(.get, """
            protocol=https
            host=example.com
            username=user4
            --
            capability[]=authtype
            username=user4
            password=pass
            oauth_refresh_token=xyzzy
            --
            """)

        // Not git's case; the daemon's order when both are stored.
        c.test("prints password_expiry_utc before oauth_refresh_token")
        c.check(.store, """
            protocol=https
            host=both.tld
            username=u
            password=p
            oauth_refresh_token=xyzzy
            password_expiry_utc=9999999999
            """)
        c.check(.get, """
            protocol=https
            host=both.tld
            --
            capability[]=authtype
            username=u
            password=p
            password_expiry_utc=9999999999
            oauth_refresh_token=xyzzy
            """)
    }

    /// git 2.39 drops oauth_refresh_token on approve: the password alone comes back.
    func testOAuthRefreshTokenThroughGit() throws {
        let c = CredentialConversation(try makeSandbox())

        c.test("stores oauth_refresh_token")
        c.check(.approve, """
            protocol=https
            host=example.com
            username=user4
            password=pass
            oauth_refresh_token=xyzzy
            """)

        c.test("gets oauth_refresh_token (git 2.39 carries none)")
        c.check(.fill, """
            protocol=https
            host=example.com
            username=user4
            --
            protocol=https
            host=example.com
            username=user4
            password=pass
            --
            """)
    }

    // MARK: helper_test_authtype

    func testAuthtypeFedToTheHelper() throws {
        let c = CredentialConversation(try makeSandbox())

        c.test("stores authtype and credential")
        c.check(.store, """
            capability[]=authtype
            authtype=Bearer
            credential=random-token
            protocol=https
            host=git.example.com
            """)

        c.test("gets authtype and credential")
        c.check(.get, """
            capability[]=authtype
            protocol=https
            host=git.example.com
            --
            capability[]=authtype
            authtype=Bearer
            credential=random-token
            --
            """)

        c.test("stores authtype and credential with username")
        c.check(.store, """
            capability[]=authtype
            authtype=Bearer
            credential=other-token
            protocol=https
            host=git.example.com
            username=foobar
            """)

        c.test("gets authtype and credential with username")
        c.check(.get, """
            capability[]=authtype
            protocol=https
            host=git.example.com
            username=foobar
            --
            capability[]=authtype
            username=foobar
            authtype=Bearer
            credential=other-token
            --
            """)

        c.test("does not get authtype and credential with different username")
        c.check(.get, """
            capability[]=authtype
            protocol=https
            host=git.example.com
            username=barbaz
            --
            """)

        c.test("does not store ephemeral authtype and credential")
        c.check(.store, """
            capability[]=authtype
            authtype=Bearer
            credential=git2-token
            protocol=https
            host=git2.example.com
            ephemeral=1
            """)
        c.check(.get, """
            capability[]=authtype
            protocol=https
            host=git2.example.com
            --
            """)

        // git's case spells the key `user=`, so this credential is also partial.
        c.test("does not store ephemeral username and password")
        c.check(.store, """
            capability[]=authtype
            protocol=https
            host=git2.example.com
            user=barbaz
            password=secret
            ephemeral=1
            """)
        c.check(.get, """
            capability[]=authtype
            protocol=https
            host=git2.example.com
            --
            """)

        // Not git's cases; credential-cache's daemon behaves so.
        c.test("does not store an ephemeral username and password")
        c.check(.store, """
            capability[]=authtype
            protocol=https
            host=git3.example.com
            username=barbaz
            password=secret
            ephemeral=1
            """)
        c.check(.get, """
            capability[]=authtype
            protocol=https
            host=git3.example.com
            --
            """)

        c.test("hands authtype and credential only to a caller that announced the capability")
        c.check(.get, """
            protocol=https
            host=git.example.com
            --
            capability[]=authtype
            --
            """)

        c.test("stores authtype without a credential, as the daemon does")
        c.check(.store, """
            capability[]=authtype
            authtype=Negotiate
            protocol=https
            host=kerberos.example.com
            """)
        c.check(.get, """
            capability[]=authtype
            protocol=https
            host=kerberos.example.com
            --
            capability[]=authtype
            authtype=Negotiate
            """)

        c.test("erase compares the credential as it compares a password")
        c.check(.erase, """
            capability[]=authtype
            authtype=Bearer
            credential=wrong-token
            protocol=https
            host=git.example.com
            """)
        c.check(.get, """
            capability[]=authtype
            protocol=https
            host=git.example.com
            username=foobar
            --
            capability[]=authtype
            username=foobar
            authtype=Bearer
            credential=other-token
            """)
        c.check(.erase, """
            capability[]=authtype
            authtype=Bearer
            credential=other-token
            protocol=https
            host=git.example.com
            """)
        c.check(.get, """
            capability[]=authtype
            protocol=https
            host=git.example.com
            username=foobar
            --
            """)
        c.check(.get, """
            capability[]=authtype
            protocol=https
            host=git.example.com
            --
            capability[]=authtype
            authtype=Bearer
            credential=random-token
            """)
    }

    /// git 2.39 drops capability[], authtype, credential and ephemeral. Without a username and
    /// password it does not call the helper on approve, and what it asks for on fill has no
    /// answer: it prompts, as git's own expectation for the last two cases says.
    func testAuthtypeThroughGit() throws {
        let c = CredentialConversation(try makeSandbox())

        c.test("stores authtype and credential (git 2.39 does not call the helper)")
        c.check(.approve, """
            capability[]=authtype
            authtype=Bearer
            credential=random-token
            protocol=https
            host=git.example.com
            """)

        c.test("gets authtype and credential (git 2.39 prompts instead)")
        c.check(.fill, """
            capability[]=authtype
            protocol=https
            host=git.example.com
            --
            protocol=https
            host=git.example.com
            username=askpass-username
            password=askpass-password
            --
            askpass: Username for 'https://git.example.com':
            askpass: Password for 'https://askpass-username@git.example.com':
            """)

        // A Bearer credential stored by git ≥ 2.46 sharing the agent is not offered to git 2.39,
        // which could not use it: only the capability line goes back, which 2.39 ignores.
        c.test("a bearer token stored by git ≥ 2.46 is not offered to git 2.39")
        c.check(.store, """
            capability[]=authtype
            authtype=Bearer
            credential=random-token
            protocol=https
            host=git.example.com
            username=foobar
            """)
        c.check(.fill, """
            protocol=https
            host=git.example.com
            username=foobar
            --
            protocol=https
            host=git.example.com
            username=foobar
            password=askpass-password
            --
            askpass: Password for 'https://foobar@git.example.com':
            """)

        c.test("does not get authtype and credential with different username")
        c.check(.fill, """
            capability[]=authtype
            protocol=https
            host=git.example.com
            username=barbaz
            --
            protocol=https
            host=git.example.com
            username=barbaz
            password=askpass-password
            --
            askpass: Password for 'https://barbaz@git.example.com':
            """)

        c.test("does not store ephemeral authtype and credential")
        c.check(.approve, """
            capability[]=authtype
            authtype=Bearer
            credential=git2-token
            protocol=https
            host=git2.example.com
            ephemeral=1
            """)
        c.check(.fill, """
            capability[]=authtype
            protocol=https
            host=git2.example.com
            --
            protocol=https
            host=git2.example.com
            username=askpass-username
            password=askpass-password
            --
            askpass: Username for 'https://git2.example.com':
            askpass: Password for 'https://askpass-username@git2.example.com':
            """)

        c.test("does not store ephemeral username and password")
        c.check(.approve, """
            capability[]=authtype
            protocol=https
            host=git2.example.com
            user=barbaz
            password=secret
            ephemeral=1
            """)
        c.check(.fill, """
            capability[]=authtype
            protocol=https
            host=git2.example.com
            --
            protocol=https
            host=git2.example.com
            username=askpass-username
            password=askpass-password
            --
            askpass: Username for 'https://git2.example.com':
            askpass: Password for 'https://askpass-username@git2.example.com':
            """)
    }

    // MARK: erase and store rules of git ≥ 2.42 (credential-cache--daemon.c), beyond git's cases

    func testEraseAndStoreRulesFedToTheHelper() throws {
        let c = CredentialConversation(try makeSandbox())

        c.test("erase with a password but no username removes only entries with that password")
        c.check(.store, """
            protocol=https
            host=rules.tld
            username=alice
            password=shared
            """)
        c.check(.store, """
            protocol=https
            host=rules.tld
            username=bob
            password=own
            """)
        c.check(.store, """
            protocol=https
            host=rules.tld
            username=carol
            password=shared
            """)
        c.check(.erase, """
            protocol=https
            host=rules.tld
            password=shared
            """)
        c.check(.get, """
            protocol=https
            host=rules.tld
            --
            capability[]=authtype
            username=bob
            password=own
            """)
        c.check(.get, """
            protocol=https
            host=rules.tld
            username=alice
            --
            """)
        c.check(.get, """
            protocol=https
            host=rules.tld
            username=carol
            --
            """)

        c.test("erase of another host or protocol leaves the entry")
        c.check(.erase, """
            protocol=http
            host=rules.tld
            """)
        c.check(.erase, """
            protocol=https
            host=other.rules.tld
            """)
        c.check(.get, """
            protocol=https
            host=rules.tld
            username=bob
            --
            capability[]=authtype
            username=bob
            password=own
            """)

        c.test("a get without path matches an entry stored with a path")
        c.check(.store, """
            protocol=https
            host=paths.tld
            path=org/repo.git
            username=u
            password=repo-pass
            """)
        c.check(.get, """
            protocol=https
            host=paths.tld
            --
            capability[]=authtype
            username=u
            password=repo-pass
            """)
        c.check(.get, """
            protocol=https
            host=paths.tld
            path=org/repo.git
            --
            capability[]=authtype
            username=u
            password=repo-pass
            """)

        c.test("store without path replaces that user's entries for every path")
        c.check(.store, """
            protocol=https
            host=paths.tld
            username=u
            password=host-pass
            """)
        c.check(.get, """
            protocol=https
            host=paths.tld
            path=org/repo.git
            --
            """)
        c.check(.get, """
            protocol=https
            host=paths.tld
            --
            capability[]=authtype
            username=u
            password=host-pass
            """)

        c.test("a partial credential is not stored")
        c.check(.store, """
            protocol=https
            host=partial.tld
            username=u
            """)
        c.check(.store, """
            protocol=https
            host=partial.tld
            password=p
            """)
        c.check(.get, """
            protocol=https
            host=partial.tld
            --
            """)

        c.test("an overwritten entry keeps its place among several matches")
        c.check(.store, """
            protocol=https
            host=order.tld
            username=first
            password=1
            """)
        c.check(.store, """
            protocol=https
            host=order.tld
            username=second
            password=2
            """)
        c.check(.store, """
            protocol=https
            host=order.tld
            username=first
            password=1b
            """)
        c.check(.get, """
            protocol=https
            host=order.tld
            --
            capability[]=authtype
            username=first
            password=1b
            """)

        c.test("a repeated key counts with its last value, as git's credential_read() reads it")
        c.check(.get, """
            protocol=https
            host=wrong.tld
            host=order.tld
            username=nobody
            username=second
            --
            capability[]=authtype
            username=second
            password=2
            """)
    }

    // MARK: `git config credential.helper broker` with no broker config

    /// The short name resolves to `git-credential-broker` on PATH, as a user configures it.
    func testShortHelperNameWithoutConfigBehavesLikeCredentialCache() throws {
        guard !keepsPastTimeout else { throw XCTSkip("the memory store's case: it runs without a config") }
        let sandbox = Sandbox()
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandbox.configPath), "no broker config at all")
        let path = Sandbox.binDirectory + ":" + (sandbox.environment["PATH"] ?? "/usr/bin:/bin")
        func git(_ command: String, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
            let expected = transcript(text)
            let result = sandbox.run("/usr/bin/git", ["-c", "credential.helper=broker", "credential", command],
                                     stdin: expected.input, extraEnvironment: ["PATH": path])
            XCTAssertEqual(result.status, 0, result.stderr, file: file, line: line)
            XCTAssertEqual(result.stdout, expected.stdout, file: file, line: line)
            XCTAssertEqual(result.stderr, expected.stderr, file: file, line: line)
        }
        git("approve", """
            protocol=https
            host=example.com
            username=store-user
            password=store-pass
            """)
        git("fill", """
            protocol=https
            host=example.com
            --
            protocol=https
            host=example.com
            username=store-user
            password=store-pass
            --
            """)
        git("reject", """
            protocol=https
            host=example.com
            """)
        git("fill", """
            protocol=https
            host=example.com
            --
            protocol=https
            host=example.com
            username=askpass-username
            password=askpass-password
            --
            askpass: Username for 'https://example.com':
            askpass: Password for 'https://askpass-username@example.com':
            """)
    }
}
