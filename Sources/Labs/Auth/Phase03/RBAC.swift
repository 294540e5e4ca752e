// Role-based access control: authentication says who you are (a valid token, else 401
// with WWW-Authenticate), authorisation says what you may do (a role too low is 403, never
// 404 or 200). On the bookshelf reads are public, creating and replacing books and authors
// need `editor`, deleting needs `admin`, and only an admin changes roles. A JWT carries the
// role it was issued with, so a change of role shows on the next token. This lab walks
// every guarded route of the contract with no token, a reader's, an editor's and an
// admin's, over real HTTP: the reference, or your server (--url/--against).
import Foundation
import LabKit

struct RBACLab: Lab {
    static let breaker = authBreakerKnob([.anonymousWrites, .readerWrites, .editorDenied, .editorDeletes, .anyoneSetsRoles, .staleRoleCache])

    static let info = LabInfo(
        id: "rbac", title: "Role-based access control: 401, 403 and 2xx per role", phase: 3,
        teaches:
            "Guard every write of the bookshelf by role: 401 without a token, 403 with the wrong role, 2xx with the right one, admin-only role changes that take effect on the next token.",
        parameters: [breaker.parameter], needs: [], subjects: [.url, .against],
        source: "Sources/Labs/Auth/Phase03/RBAC.swift")

    static let anonymous = AuthCheck(
        "Without a token every guarded route is 401 Bearer",
        "POST /authors, POST /books, PUT /books/{id}, DELETE /books/{id} and PUT /users/{id}/role without Authorization are each 401 with WWW-Authenticate: Bearer; GET /books and GET /books/{id} are 200"
    )
    static let reader = AuthCheck(
        "A reader is 403 on every write and 200 on reads",
        "with a reader's token POST /authors, POST /books, PUT /books/{id} and DELETE /books/{id} are each 403; GET /books/{id} and GET /me are 200")
    static let editor = AuthCheck(
        "An editor creates and replaces",
        "with an editor's token POST /authors and POST /books are 201 and PUT /books/{id} is 200")
    static let delete = AuthCheck(
        "Only an admin deletes",
        "DELETE /books/{id} is 403 with an editor's token, then 204 with an admin's")
    static let roles = AuthCheck(
        "Only an admin changes roles",
        "PUT /users/{id}/role {role: admin} is 403 with an editor's token and 403 with a reader's; the first user is admin and its PUT answered 200 when it made the editor"
    )
    static let nextToken = AuthCheck(
        "A role change takes effect on the next token",
        "a reader promoted to admin logs in again; the new token's role claim is admin and DELETE /books/{id} with it is 204 (with the old token it was 403)")

    static let checks = [anonymous, reader, editor, delete, roles, nextToken]

    static func starter() -> [StarterFile] {
        authStarter(info, task: "Guard the bookshelf's writes by role (reader, editor, admin) and add PUT /users/{id}/role for admins.", checks: checks)
    }

    func run(_ lab: LabContext) async throws {
        let fault = AuthFault(rawValue: lab[Self.breaker]) ?? .none
        let subject = try await startAuthBookshelf(lab, AuthOptions(fault: fault))
        let api = subject.api, isReference = subject.isReference
        let token = runToken()

        // Three users: the first is admin (the contract's bootstrap); the admin makes the second an editor.
        let (admin, a) = await api.account("admin", run: token)
        // The editor logs in only after the promotion, so its first token is an editor's.
        var editor = Account(email: "editor-\(token)@example.test", password: "correct horse \(token) battery")
        let madeEditor = await api.signUp(editor.email, editor.password)
        editor.id = madeEditor.id
        let e = [madeEditor]
        let promoteEditor = await api.call("PUT", "/users/\(editor.id ?? 0)/role", json: ["role": "editor"], token: admin.access)
        let editorLogin = await api.login(editor.email, editor.password)
        editor.access = editorLogin.json?["access_token"]?.string
        let (reader, r) = await api.account("reader", run: token)
        lab.step(
            "Created an admin (the first user), an editor and a reader, and logged each in",
            observed(a + e + [promoteEditor, editorLogin] + r, limit: 8))
        if admin.role != "admin" {
            lab.step(
                "The first user this lab created is \(admin.role ?? "unknown"), not admin",
                "the contract makes the first user admin: run these checks on a server with an empty store")
        }

        // The books the checks write to: one made by the admin.
        let author = await api.call("POST", "/authors", json: ["name": .string("Role Author \(token)")], token: admin.access)
        func book(_ title: String, _ by: String?) async -> Call {
            await api.call("POST", "/books", json: ["title": .string(title), "author_id": .int(author.id ?? 0), "year": 2001], token: by)
        }
        let target = await book("Guarded \(token)", admin.access)
        let bookID = target.id ?? 0
        let spare = [await book("Spare one \(token)", admin.access), await book("Spare two \(token)", admin.access)]
        let bookBody: JSONValue = ["title": .string("Replaced \(token)"), "author_id": .int(author.id ?? 0), "year": 2002]
        lab.step("The admin created an author and a book", observed([author, target]))

        // No token.
        var none: [Call] = []
        none.append(await api.call("POST", "/authors", json: ["name": .string("Anon \(token)")]))
        none.append(await book("Anon \(token)", nil))
        none.append(await api.call("PUT", "/books/\(bookID)", json: bookBody))
        none.append(await api.call("DELETE", "/books/\(spare[0].id ?? 0)"))
        none.append(await api.call("PUT", "/users/\(reader.id ?? 0)/role", json: ["role": "admin"]))
        let reads = [await api.call("GET", "/books"), await api.call("GET", "/books/\(bookID)")]
        lab.record(
            Self.anonymous, isReference: isReference, none.allSatisfy(\.isBearer401) && reads.allSatisfy { $0.status == 200 },
            observed: observed(none.filter { !$0.isBearer401 } + reads.filter { $0.status != 200 }, limit: 3).nonEmpty
                ?? "every write 401 Bearer, reads 200")

        // A reader.
        var readerWrites: [Call] = []
        readerWrites.append(await api.call("POST", "/authors", json: ["name": .string("Reader \(token)")], token: reader.access))
        readerWrites.append(await book("Reader \(token)", reader.access))
        readerWrites.append(await api.call("PUT", "/books/\(bookID)", json: bookBody, token: reader.access))
        readerWrites.append(await api.call("DELETE", "/books/\(spare[1].id ?? 0)", token: reader.access))
        let readerReads = [await api.call("GET", "/books/\(bookID)", token: reader.access), await api.call("GET", "/me", token: reader.access)]
        lab.record(
            Self.reader, isReference: isReference, readerWrites.allSatisfy { $0.status == 403 } && readerReads.allSatisfy { $0.status == 200 },
            observed: observed(readerWrites.filter { $0.status != 403 } + readerReads.filter { $0.status != 200 }, limit: 3).nonEmpty
                ?? "every write 403, reads 200")

        // An editor.
        let editorAuthor = await api.call("POST", "/authors", json: ["name": .string("Editor \(token)")], token: editor.access)
        let editorBook = await book("Editor's \(token)", editor.access)
        let editorPut = await api.call("PUT", "/books/\(bookID)", json: bookBody, token: editor.access)
        lab.record(
            Self.editor, isReference: isReference, editorAuthor.status == 201 && editorBook.status == 201 && editorPut.status == 200,
            observed: observed([promoteEditor, editorAuthor, editorBook, editorPut]))

        // Deleting.
        let victim = await book("Victim \(token)", admin.access)
        let editorDelete = await api.call("DELETE", "/books/\(victim.id ?? 0)", token: editor.access)
        let adminDelete = await api.call("DELETE", "/books/\(victim.id ?? 0)", token: admin.access)
        lab.record(
            Self.delete, isReference: isReference, editorDelete.status == 403 && adminDelete.status == 204,
            observed: observed([victim, editorDelete, adminDelete]))

        // A role change, then the next token.
        let second = await book("Second victim \(token)", admin.access)
        let before = await api.call("DELETE", "/books/\(second.id ?? 0)", token: reader.access)
        let promote = await api.call("PUT", "/users/\(reader.id ?? 0)/role", json: ["role": "admin"], token: admin.access)
        let relogin = await api.login(reader.email, reader.password)
        let newToken = relogin.json?["access_token"]?.string
        let after = await api.call("DELETE", "/books/\(second.id ?? 0)", token: newToken)
        let newRole = jwtParts(newToken)?.payload["role"]?.string
        lab.record(
            Self.nextToken, isReference: isReference,
            before.status == 403 && promote.status == 200 && relogin.status == 200 && newRole == "admin" && after.status == 204,
            observed: "\(observed([before, promote, relogin])); new token's role \(newRole ?? "unreadable"); \(after.summary)")

        // Who may change roles (last: a breaker here changes roles for real).
        let byEditor = await api.call("PUT", "/users/\(editor.id ?? 0)/role", json: ["role": "admin"], token: editor.access)
        let otherReader = await api.signUp("reader2-\(token)@example.test", "correct horse \(token) battery")
        let byOldReaderToken = await api.call("PUT", "/users/\(otherReader.id ?? 0)/role", json: ["role": "admin"], token: reader.access)
        lab.record(
            Self.roles, isReference: isReference,
            admin.role == "admin" && promoteEditor.status == 200 && byEditor.status == 403 && byOldReaderToken.status == 403,
            observed: "first user's role \(admin.role ?? "unknown"); \(observed([promoteEditor, byEditor, byOldReaderToken]))")

        if let exit = subject.service.exitDescription {
            lab.step("Your server stopped during the checks: \(exit)", subject.service.outputTail() ?? "")
        }
        lab.figure("requests sent", Double(api.calls.count), "requests")
    }
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
