//! Private notes: each user creates, lists and reads only their own.

use microcore::prelude::*;

/// Private notes owned by the caller.
#[plugin]
pub struct Notes {
    http: Http,
    db: Db,
}

/// A new note.
#[model]
pub struct NewNote {
    /// 1 to 1000 characters.
    #[validate(length(min = 1, max = 1000))]
    pub text: String,
}

/// A note as its owner sees it.
#[model]
pub struct Note {
    /// Its id.
    pub id: i64,
    /// Its text.
    pub text: String,
}

/// The id in the path.
#[model]
pub struct NotePath {
    /// The note's id.
    pub id: i64,
}

/// The caller's notes, oldest first.
#[model]
pub struct NoteList {
    /// The notes.
    pub notes: Vec<Note>,
}

impl Plugin for Notes {
    async fn on_boot(self: Arc<Self>) -> BootResult {
        let create = Route::post("/notes").tag("notes").status(201).auth();
        self.http.route(create, &self, Self::create)?;
        let list = Route::get("/notes").tag("notes").auth();
        self.http.route(list, &self, Self::list)?;
        let one = Route::get("/notes/{id}").tag("notes").auth();
        self.http.route(one, &self, Self::get)?;
        Ok(())
    }
}

impl Notes {
    async fn create(self: Arc<Self>, req: NewNote, ctx: Ctx) -> HttpResult<Note> {
        let owner = owner(&ctx)?;
        let id = self
            .db
            .execute(
                "INSERT INTO notes (owner_id, text) VALUES ($1, $2) RETURNING id",
                params![owner, req.text.clone()],
            )
            .await?;
        Ok(Note { id, text: req.text })
    }

    async fn list(self: Arc<Self>, _: Empty, ctx: Ctx) -> HttpResult<NoteList> {
        let notes = self
            .db
            .query(
                "SELECT id, text FROM notes WHERE owner_id = $1 ORDER BY id",
                params![owner(&ctx)?],
            )
            .await?;
        Ok(NoteList { notes })
    }

    async fn get(self: Arc<Self>, req: NotePath, ctx: Ctx) -> HttpResult<Note> {
        self.db
            .query_one(
                "SELECT id, text FROM notes WHERE id = $1 AND owner_id = $2",
                params![req.id, owner(&ctx)?],
            )
            .await?
            .ok_or_else(|| HttpError::not_found("note not found"))
    }
}

/// The caller's user id, from the verified token.
fn owner(ctx: &Ctx) -> HttpResult<i64> {
    ctx.user()?
        .user_id()
        .ok_or_else(|| HttpError::unauthorized("Invalid or expired token"))
}
