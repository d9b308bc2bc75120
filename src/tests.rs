//! In-backend tests (`cargo pgrx test pg15`): the Rust glue seen through SPI.
//! The exhaustive SQL surface is covered by tests/pg_regress.

use pgrx::prelude::*;

#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn text(sql: &str) -> String {
        Spi::get_one::<String>(sql).unwrap().unwrap()
    }

    fn float(sql: &str) -> f64 {
        Spi::get_one::<f64>(sql).unwrap().unwrap()
    }

    #[pg_test]
    fn kernel_is_chosen_by_cpu_detection() {
        let expected = hnsw_core::distance::kernels().implementation.name();
        assert_eq!(text("SELECT hnsw_pg_kernel()"), expected);
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            assert_eq!(expected, "avx2+fma");
        }
    }

    #[pg_test]
    fn text_round_trip() {
        assert_eq!(
            text("SELECT ' [ 1, 2.5 ,-3e-7 ] '::vector::text"),
            "[1,2.5,-3e-07]"
        );
        assert_eq!(text("SELECT '[1,2,3]'::vector(3)::text"), "[1,2,3]");
    }

    #[pg_test]
    fn distances_match_the_core_kernels() {
        assert_eq!(float("SELECT '[0,0]'::vector <-> '[3,4]'"), 5.0);
        assert_eq!(float("SELECT '[1,2]'::vector <#> '[3,4]'"), -11.0);
        assert_eq!(float("SELECT '[1,2]'::vector <+> '[3,5]'"), 5.0);
        assert_eq!(float("SELECT '[1,1]'::vector <=> '[-1,-1]'"), 2.0);
        assert!(float("SELECT '[0,0]'::vector <=> '[1,1]'").is_nan());
    }

    #[pg_test]
    fn long_vectors_use_the_same_kernel_as_core() {
        // 4,000 dims exercise the SIMD main loop and its tail.
        let sql = "SELECT array_agg(sin(i))::vector <-> array_agg(cos(i))::vector \
                   FROM generate_series(1, 4000) i";
        let a: Vec<f32> = (1..=4000).map(|i| (i as f64).sin() as f32).collect();
        let b: Vec<f32> = (1..=4000).map(|i| (i as f64).cos() as f32).collect();
        let expected = hnsw_core::distance::kernels().l2_distance(&a, &b);
        assert_eq!(float(sql), expected);
    }

    #[pg_test]
    fn binary_send_is_pgvector_layout() {
        let bytes = Spi::get_one::<Vec<u8>>("SELECT vector_send('[1,-2]')")
            .unwrap()
            .unwrap();
        let mut expected = vec![0, 2, 0, 0];
        expected.extend_from_slice(&1.0f32.to_be_bytes());
        expected.extend_from_slice(&(-2.0f32).to_be_bytes());
        assert_eq!(bytes, expected);
    }

    #[pg_test(error = "expected 3 dimensions, not 2")]
    fn typmod_is_enforced() {
        Spi::run("SELECT '[1,2]'::vector(3)").unwrap();
    }

    #[pg_test(error = "different vector dimensions 2 and 3")]
    fn mismatched_operands_are_an_error() {
        Spi::run("SELECT '[1,2]'::vector <-> '[1,2,3]'").unwrap();
    }

    #[pg_test]
    fn avg_runs_in_parallel_workers() {
        Spi::run("CREATE TABLE avg_items AS SELECT ARRAY[i % 10, 1]::vector AS v FROM generate_series(1, 100000) i").unwrap();
        Spi::run("ANALYZE avg_items").unwrap();
        Spi::run("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2").unwrap();
        let plan = Spi::get_one::<pgrx::Json>("EXPLAIN (FORMAT JSON) SELECT avg(v) FROM avg_items")
            .unwrap()
            .unwrap();
        assert!(
            plan.0.to_string().contains(r#""Partial Mode":"Partial""#),
            "{}",
            plan.0
        );
        assert_eq!(text("SELECT avg(v)::text FROM avg_items"), "[4.5,1]");
        assert_eq!(
            text("SELECT sum(v)::text FROM avg_items"),
            "[450000,100000]"
        );
    }
}
