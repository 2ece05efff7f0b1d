//! The one list of the service's endpoints: what the document describes and what the drift
//! test (`tests/tests/openapi_routes.rs`) holds the router to.
//!
//! Each entry is [`Status::Served`] or [`Status::Planned`]. The document describes only served
//! endpoints. The drift test sends a request for every entry to a running server and fails when
//! a served entry is not routed or a planned one is: whoever adds a route flips its entry here
//! (or adds one), and the document follows.

use Interaction as I;
use Method::{Delete, Get, Patch, Post, Put};
use Status::{Planned, Served};

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// Whether the router serves an endpoint yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Served,
    /// Part of the contract, not routed yet; left out of the document.
    Planned,
}

/// What an endpoint does; selects how the document describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interaction {
    Health,
    Ready,
    OpenApi,
    Docs,
    Token,
    AdminTenantList,
    AdminTenantCreate,
    AdminTenantRead,
    AdminTenantDelete,
    AdminTenantSuspend,
    AdminTenantResume,
    AdminClientCreate,
    AdminClientList,
    AdminClientRead,
    AdminClientDelete,
    Metadata,
    SmartConfiguration,
    BatchTransaction,
    SearchSystem,
    SearchSystemPost,
    HistorySystem,
    ExportSystem,
    ExportSystemPost,
    ExportPatient,
    ExportPatientPost,
    ExportGroup,
    ExportGroupPost,
    ExportStatus,
    ExportCancel,
    ExportFile,
    Create,
    SearchType,
    SearchTypePost,
    ConditionalUpdate,
    ConditionalPatch,
    ConditionalDelete,
    HistoryType,
    Read,
    Update,
    Patch,
    Delete,
    HistoryInstance,
    Vread,
}

/// One method on one path template. `{type}` stands for each of the 146 resource types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub interaction: Interaction,
    pub method: Method,
    pub path: &'static str,
    pub status: Status,
}

impl Endpoint {
    /// Whether the path is expanded once per resource type.
    pub fn per_type(&self) -> bool {
        self.path.contains("{type}")
    }
}

const fn e(
    interaction: Interaction,
    method: Method,
    path: &'static str,
    status: Status,
) -> Endpoint {
    Endpoint {
        interaction,
        method,
        path,
        status,
    }
}

/// Every endpoint of the contract (CONTRACT.md), in document order.
pub const ENDPOINTS: &[Endpoint] = &[
    e(I::Health, Get, "/health", Served),
    e(I::Ready, Get, "/ready", Served),
    e(I::OpenApi, Get, "/openapi.json", Served),
    e(I::Docs, Get, "/docs", Served),
    e(I::Token, Post, "/auth/token", Served),
    e(I::AdminTenantList, Get, "/admin/tenants", Served),
    e(I::AdminTenantCreate, Post, "/admin/tenants", Served),
    e(I::AdminTenantRead, Get, "/admin/tenants/{id}", Served),
    e(I::AdminTenantDelete, Delete, "/admin/tenants/{id}", Served),
    e(
        I::AdminTenantSuspend,
        Post,
        "/admin/tenants/{id}/suspend",
        Served,
    ),
    e(
        I::AdminTenantResume,
        Post,
        "/admin/tenants/{id}/resume",
        Served,
    ),
    e(
        I::AdminClientCreate,
        Post,
        "/admin/tenants/{id}/clients",
        Served,
    ),
    e(
        I::AdminClientList,
        Get,
        "/admin/tenants/{id}/clients",
        Served,
    ),
    e(
        I::AdminClientRead,
        Get,
        "/admin/tenants/{id}/clients/{clientId}",
        Planned,
    ),
    e(
        I::AdminClientDelete,
        Delete,
        "/admin/tenants/{id}/clients/{clientId}",
        Served,
    ),
    e(I::Metadata, Get, "/tenant/{tenantId}/metadata", Served),
    e(
        I::SmartConfiguration,
        Get,
        "/tenant/{tenantId}/.well-known/smart-configuration",
        Served,
    ),
    e(I::BatchTransaction, Post, "/tenant/{tenantId}", Served),
    e(I::SearchSystem, Get, "/tenant/{tenantId}", Served),
    e(
        I::SearchSystemPost,
        Post,
        "/tenant/{tenantId}/_search",
        Served,
    ),
    e(I::HistorySystem, Get, "/tenant/{tenantId}/_history", Served),
    e(I::ExportSystem, Get, "/tenant/{tenantId}/$export", Served),
    e(
        I::ExportSystemPost,
        Post,
        "/tenant/{tenantId}/$export",
        Served,
    ),
    e(
        I::ExportPatient,
        Get,
        "/tenant/{tenantId}/Patient/$export",
        Served,
    ),
    e(
        I::ExportPatientPost,
        Post,
        "/tenant/{tenantId}/Patient/$export",
        Served,
    ),
    e(
        I::ExportGroup,
        Get,
        "/tenant/{tenantId}/Group/{id}/$export",
        Served,
    ),
    e(
        I::ExportGroupPost,
        Post,
        "/tenant/{tenantId}/Group/{id}/$export",
        Served,
    ),
    e(
        I::ExportStatus,
        Get,
        "/tenant/{tenantId}/$export-status/{jobId}",
        Served,
    ),
    e(
        I::ExportCancel,
        Delete,
        "/tenant/{tenantId}/$export-status/{jobId}",
        Served,
    ),
    e(
        I::ExportFile,
        Get,
        "/tenant/{tenantId}/$export-file/{jobId}/{file}",
        Served,
    ),
    e(I::Create, Post, "/tenant/{tenantId}/{type}", Served),
    e(I::SearchType, Get, "/tenant/{tenantId}/{type}", Served),
    e(
        I::ConditionalUpdate,
        Put,
        "/tenant/{tenantId}/{type}",
        Served,
    ),
    e(
        I::ConditionalPatch,
        Patch,
        "/tenant/{tenantId}/{type}",
        Served,
    ),
    e(
        I::ConditionalDelete,
        Delete,
        "/tenant/{tenantId}/{type}",
        Served,
    ),
    e(
        I::SearchTypePost,
        Post,
        "/tenant/{tenantId}/{type}/_search",
        Served,
    ),
    e(
        I::HistoryType,
        Get,
        "/tenant/{tenantId}/{type}/_history",
        Served,
    ),
    e(I::Read, Get, "/tenant/{tenantId}/{type}/{id}", Served),
    e(I::Update, Put, "/tenant/{tenantId}/{type}/{id}", Served),
    e(I::Patch, Patch, "/tenant/{tenantId}/{type}/{id}", Served),
    e(I::Delete, Delete, "/tenant/{tenantId}/{type}/{id}", Served),
    e(
        I::HistoryInstance,
        Get,
        "/tenant/{tenantId}/{type}/{id}/_history",
        Served,
    ),
    e(
        I::Vread,
        Get,
        "/tenant/{tenantId}/{type}/{id}/_history/{vid}",
        Served,
    ),
];

/// The endpoints the router serves.
pub fn served() -> impl Iterator<Item = &'static Endpoint> {
    ENDPOINTS.iter().filter(|e| e.status == Status::Served)
}
