//! Durable jobs, the embedded queue and the workers that run them (Bulk Data `$export`).
