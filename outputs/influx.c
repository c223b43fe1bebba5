/* The line protocol writer: owns the bounded queue of lines (or, in durable mode, its
 * use of the outbox), the CURL easy handle and the worker thread that posts batches and
 * retries them. influx_submit()/influx_stats() run on the callers' threads under the
 * mutex; everything that touches CURL runs on the worker, which sleeps on the
 * condition variable until a batch is due. */
#define LOG_TAG "influx"

#include "outputs/influx.h"

#include <errno.h>
#include <string.h>

#include <curl/curl.h>
#include <glib.h>
#include <zlib.h>

#include "core/log.h"
#include "outputs/outbox.h"

#define RESP_MAX 4096 /* bytes of an error answer kept */
#define RESP_LOG 200  /* bytes of it logged */

struct qline {
	gint64 t_us; /* monotonic time it was queued */
	size_t len;  /* including the "\n" */
	char data[];
};

struct influx {
	/* Immutable after influx_create(). */
	int batch_size;
	int flush_interval_ms;
	int timeout_ms;
	int max_buffer;
	int retry_min_ms;
	int retry_max_ms;
	char *log_url;	   /* the write URL without user info or query, safe to log */
	struct outbox *ob; /* durable mode, else NULL */

	/* Worker only, after influx_create(). */
	GThread *thread;
	CURL *curl;
	struct curl_slist *headers;
	struct curl_slist *headers_gz; /* the same with Content-Encoding: gzip */
	bool gzip;		       /* the server takes gzip (until it answers 415) */
	bool single;		       /* post one record at a time (looking for a bad one) */
	GString *gz;
	char *write_url;
	GString *body;
	GString *resp;
	char errbuf[CURL_ERROR_SIZE];
	int delay_ms;	     /* next backoff interval */
	bool failing;	     /* a failure run has been logged */
	int fail_status;     /* status logged for the current failure run */
	uint64_t fail_count; /* failed posts in the current run */

	/* Under mu. */
	GMutex mu;
	GCond cond;
	GQueue queue;	 /* struct qline *, oldest first, not in flight */
	guint inflight;	 /* lines the worker is posting */
	gint64 retry_at; /* monotonic us of the next retry, 0 if not backing off */
	bool stopping;
	gint64 stop_deadline; /* monotonic us */
	gint64 move_at;	      /* durable mode: next attempt to move queue into the outbox */
	bool dropping;	      /* a drop run has been logged */
	uint64_t drop_run;    /* lines dropped in the current run */
	struct influx_stats st;
};

static void curl_init_once(void)
{
	static gsize done;

	if (g_once_init_enter(&done)) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		g_once_init_leave(&done, 1);
	}
}

static bool nonempty(const char *s)
{
	return s && *s;
}

static int check_cfg(const struct cfg_influx *c)
{
	if (!c || !nonempty(c->url))
		return -EINVAL;
	if (strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0)
		return -EINVAL;
	if (c->version == 1) {
		if (!nonempty(c->database))
			return -EINVAL;
	} else if (c->version == 2) {
		if (!nonempty(c->org) || !nonempty(c->bucket) || !nonempty(c->token))
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (c->batch_size < 1 || c->max_buffer < 1 || c->flush_interval_ms < 0 ||
	    c->timeout_ms < 1 || c->retry_min_ms < 1 || c->retry_max_ms < c->retry_min_ms)
		return -EINVAL;
	return 0;
}

/* "scheme://user:pw@host:port/path" -> "scheme://host:port/path". */
static char *strip_userinfo(const char *url)
{
	const char *host = strstr(url, "://");
	const char *at, *slash;

	if (!host)
		return g_strdup(url);
	host += 3;
	at = strchr(host, '@');
	slash = strchr(host, '/');
	if (!at || (slash && slash < at))
		return g_strdup(url);
	return g_strdup_printf("%.*s%s", (int)(host - url), url, at + 1);
}

static char *build_url(CURL *curl, const struct cfg_influx *c, const char *base)
{
	char *a, *b = NULL, *url;

	if (c->version == 1) {
		a = curl_easy_escape(curl, c->database, 0);
		url = a ? g_strdup_printf("%s/write?db=%s&precision=ns", base, a) : NULL;
	} else {
		a = curl_easy_escape(curl, c->org, 0);
		b = curl_easy_escape(curl, c->bucket, 0);
		url = a && b ? g_strdup_printf("%s/api/v2/write?org=%s&bucket=%s&precision=ns",
					       base, a, b)
			     : NULL;
	}
	curl_free(a);
	curl_free(b);
	return url;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *data)
{
	struct influx *ix = data;
	size_t n = size * nmemb;

	if (ix->resp->len < RESP_MAX)
		g_string_append_len(ix->resp, ptr, (gssize)MIN(n, RESP_MAX - ix->resp->len));
	return n;
}

/* Abandons a post that runs past the stop deadline. */
static int on_progress(void *data, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct influx *ix = data;
	bool late;

	(void)dt, (void)dn, (void)ut, (void)un;
	g_mutex_lock(&ix->mu);
	late = ix->stopping && g_get_monotonic_time() >= ix->stop_deadline;
	g_mutex_unlock(&ix->mu);
	return late ? 1 : 0;
}

static int setup_curl(struct influx *ix, const struct cfg_influx *c)
{
	char *base = g_strdup(c->url);
	char *auth = NULL;
	size_t n = strlen(base);
	int rc = -ENOMEM;

	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	ix->curl = curl_easy_init();
	if (!ix->curl)
		goto out;
	ix->write_url = build_url(ix->curl, c, base);
	if (!ix->write_url)
		goto out;
	ix->log_url = strip_userinfo(base);

	ix->headers = curl_slist_append(NULL, "Content-Type: text/plain; charset=utf-8");
	if (ix->headers)
		ix->headers = curl_slist_append(ix->headers, "Expect:");
	if (ix->headers && c->version == 2) {
		auth = g_strdup_printf("Authorization: Token %s", c->token);
		ix->headers = curl_slist_append(ix->headers, auth);
	}
	if (!ix->headers)
		goto out;
	for (struct curl_slist *h = ix->headers; h; h = h->next)
		ix->headers_gz = curl_slist_append(ix->headers_gz, h->data);
	ix->headers_gz = curl_slist_append(ix->headers_gz, "Content-Encoding: gzip");
	if (!ix->headers_gz)
		goto out;

	curl_easy_setopt(ix->curl, CURLOPT_URL, ix->write_url);
	curl_easy_setopt(ix->curl, CURLOPT_HTTPHEADER, ix->headers);
	curl_easy_setopt(ix->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(ix->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(ix->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(ix->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(ix->curl, CURLOPT_WRITEDATA, ix);
	curl_easy_setopt(ix->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(ix->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(ix->curl, CURLOPT_XFERINFODATA, ix);
	curl_easy_setopt(ix->curl, CURLOPT_ERRORBUFFER, ix->errbuf);
	if (c->version == 1 && nonempty(c->username)) {
		curl_easy_setopt(ix->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(ix->curl, CURLOPT_USERNAME, c->username);
		curl_easy_setopt(ix->curl, CURLOPT_PASSWORD, c->password ? c->password : "");
	}
	rc = 0;
out:
	if (auth) {
		memset(auth, 0, strlen(auth));
		g_free(auth);
	}
	g_free(base);
	return rc;
}

/* The server's answer made fit for one log line: control characters blanked, trimmed,
 * at most RESP_LOG bytes without splitting a UTF-8 sequence. */
static void resp_for_log(GString *r)
{
	size_t n;

	for (size_t i = 0; i < r->len; i++) {
		if ((unsigned char)r->str[i] < 0x20)
			r->str[i] = ' ';
	}
	g_strstrip(r->str);
	n = strlen(r->str);
	if (n > RESP_LOG) {
		n = RESP_LOG;
		while (n > 0 && ((unsigned char)r->str[n] & 0xC0) == 0x80)
			n--;
	}
	g_string_truncate(r, n);
}

/* Posts ix->body. Returns true on 204; *status is the HTTP status or 0. */
static bool post(struct influx *ix, long timeout_ms, long *status)
{
	CURLcode cc;

	g_string_truncate(ix->resp, 0);
	ix->errbuf[0] = '\0';
	curl_easy_setopt(ix->curl, CURLOPT_POSTFIELDS, ix->body->str);
	curl_easy_setopt(ix->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)ix->body->len);
	curl_easy_setopt(ix->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	cc = curl_easy_perform(ix->curl);
	*status = 0;
	if (cc != CURLE_OK) {
		g_string_assign(ix->resp, ix->errbuf[0] ? ix->errbuf : curl_easy_strerror(cc));
		return false;
	}
	curl_easy_getinfo(ix->curl, CURLINFO_RESPONSE_CODE, status);
	return *status == 204;
}

/* Complains once per failure run (again only if the status changes), and once on
 * recovery. Never logs credentials: they are in headers/options, not in log_url. */
static void report(struct influx *ix, bool ok, long status, guint lines)
{
	if (ok) {
		if (ix->failing)
			log_info("writes to %s succeed again after %" G_GUINT64_FORMAT
				 " failed posts",
				 ix->log_url, ix->fail_count);
		ix->failing = false;
		ix->fail_count = 0;
		return;
	}
	ix->fail_count++;
	if (ix->failing && ix->fail_status == (int)status)
		return;
	resp_for_log(ix->resp);
	if (status)
		log_warn(
		    "write to %s failed: HTTP %ld: %s; keeping %u lines, retrying every %d..%d ms",
		    ix->log_url, status, ix->resp->str, lines, ix->retry_min_ms, ix->retry_max_ms);
	else
		log_warn("write to %s failed: %s; keeping %u lines, retrying every %d..%d ms",
			 ix->log_url, ix->resp->str, lines, ix->retry_min_ms, ix->retry_max_ms);
	ix->failing = true;
	ix->fail_status = (int)status;
}

/* When the next post is due, in monotonic us; mu held, queue not empty. */
static gint64 next_due(struct influx *ix, gint64 now)
{
	struct qline *head = g_queue_peek_head(&ix->queue);
	gint64 due;

	if (ix->retry_at)
		due = ix->retry_at;
	else if (ix->stopping || g_queue_get_length(&ix->queue) >= (guint)ix->batch_size)
		due = now;
	else
		due = head->t_us + (gint64)ix->flush_interval_ms * 1000;
	if (ix->stopping && due > ix->stop_deadline)
		due = ix->stop_deadline;
	return due;
}

static gpointer worker(gpointer data)
{
	struct influx *ix = data;
	GPtrArray *batch = g_ptr_array_new();
	guint left;

	g_mutex_lock(&ix->mu);
	for (;;) {
		gint64 now = g_get_monotonic_time();
		long timeout_ms = ix->timeout_ms, status;
		bool ok;

		if (ix->stopping && (g_queue_is_empty(&ix->queue) || now >= ix->stop_deadline))
			break;
		if (g_queue_is_empty(&ix->queue)) {
			g_cond_wait(&ix->cond, &ix->mu);
			continue;
		}
		gint64 due = next_due(ix, now);
		if (now < due) {
			g_cond_wait_until(&ix->cond, &ix->mu, due);
			continue;
		}

		while (batch->len < (guint)ix->batch_size && !g_queue_is_empty(&ix->queue))
			g_ptr_array_add(batch, g_queue_pop_head(&ix->queue));
		ix->inflight = batch->len;
		if (ix->stopping)
			timeout_ms = MIN(timeout_ms, (ix->stop_deadline - now) / 1000 + 1);
		g_mutex_unlock(&ix->mu);

		g_string_truncate(ix->body, 0);
		for (guint i = 0; i < batch->len; i++) {
			struct qline *l = batch->pdata[i];
			g_string_append_len(ix->body, l->data, (gssize)l->len);
		}
		ok = post(ix, timeout_ms, &status);
		report(ix, ok, status, batch->len);

		g_mutex_lock(&ix->mu);
		ix->st.last_status = (int)status;
		ix->st.connected = ok;
		if (ok) {
			ix->st.lines_sent += batch->len;
			ix->st.batches_sent++;
			ix->retry_at = 0;
			ix->delay_ms = ix->retry_min_ms;
			for (guint i = 0; i < batch->len; i++)
				g_free(batch->pdata[i]);
		} else {
			/* Back to the head, in order: nothing is lost on a failed post. */
			for (guint i = batch->len; i > 0; i--)
				g_queue_push_head(&ix->queue, batch->pdata[i - 1]);
			ix->st.batches_failed++;
			ix->retry_at = g_get_monotonic_time() + (gint64)ix->delay_ms * 1000;
			ix->delay_ms = ix->delay_ms > ix->retry_max_ms / 2 ? ix->retry_max_ms
									   : ix->delay_ms * 2;
		}
		g_ptr_array_set_size(batch, 0);
		ix->inflight = 0;
	}
	left = g_queue_get_length(&ix->queue);
	ix->st.lines_dropped += left;
	g_mutex_unlock(&ix->mu);
	if (left)
		log_warn("stopping with %u lines not written to %s: they are lost", left,
			 ix->log_url);
	g_ptr_array_unref(batch);
	return NULL;
}

/* ---- durable mode: the outbox holds the lines ---- */

/* gzip of src into dst (a gzip member, as Content-Encoding: gzip wants). */
static int gzip_into(GString *dst, const char *src, size_t len)
{
	z_stream z = {0};
	uLong cap = compressBound((uLong)len) + 32;
	int zr;

	if (deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	g_string_set_size(dst, cap);
	z.next_in = (Bytef *)src;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)dst->str;
	z.avail_out = (uInt)cap;
	zr = deflate(&z, Z_FINISH);
	g_string_set_size(dst, z.total_out);
	deflateEnd(&z);
	return zr == Z_STREAM_END ? 0 : -EIO;
}

/* The line a 400 answer names: InfluxDB says "unable to parse '<line>': why". */
static char *named_line(const char *resp)
{
	const char *p = strstr(resp, "unable to parse '");
	const char *e;

	if (!p)
		return NULL;
	p += strlen("unable to parse '");
	e = strstr(p, "': ");
	if (!e)
		e = strrchr(p, '\'');
	return e && e > p ? g_strndup(p, (gsize)(e - p)) : NULL;
}

/* Posts a set of records; returns true on 204. */
static bool post_records(struct influx *ix, GPtrArray *recs, long *status)
{
	CURLcode cc;
	bool gz = ix->gzip;

	g_string_truncate(ix->body, 0);
	for (guint i = 0; i < recs->len; i++) {
		struct outbox_rec *r = recs->pdata[i];
		g_string_append_len(ix->body, r->data, (gssize)r->len);
	}
	if (gz && gzip_into(ix->gz, ix->body->str, ix->body->len) < 0)
		gz = false;
	g_string_truncate(ix->resp, 0);
	ix->errbuf[0] = '\0';
	curl_easy_setopt(ix->curl, CURLOPT_HTTPHEADER, gz ? ix->headers_gz : ix->headers);
	curl_easy_setopt(ix->curl, CURLOPT_POSTFIELDS, gz ? ix->gz->str : ix->body->str);
	curl_easy_setopt(ix->curl, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)(gz ? ix->gz->len : ix->body->len));
	curl_easy_setopt(ix->curl, CURLOPT_TIMEOUT_MS, (long)ix->timeout_ms);
	cc = curl_easy_perform(ix->curl);
	*status = 0;
	if (cc != CURLE_OK) {
		g_string_assign(ix->resp, ix->errbuf[0] ? ix->errbuf : curl_easy_strerror(cc));
		return false;
	}
	curl_easy_getinfo(ix->curl, CURLINFO_RESPONSE_CODE, status);
	return *status == 204;
}

/* A 400/422: set aside the record holding the named line (or, when the answer names
 * none, the record posted alone). Returns true when something was set aside. */
static bool set_aside(struct influx *ix, GPtrArray *recs)
{
	char *line = named_line(ix->resp->str);
	struct outbox_rec *bad = NULL;
	uint64_t w;

	for (guint i = 0; line && !bad && i < recs->len; i++) {
		struct outbox_rec *r = recs->pdata[i];
		if (g_strstr_len(r->data, (gssize)r->len, line))
			bad = r;
	}
	if (!bad && recs->len == 1)
		bad = recs->pdata[0];
	if (!bad) {
		/* Find it by posting one record at a time. */
		ix->single = true;
		g_free(line);
		return false;
	}
	resp_for_log(ix->resp);
	log_warn("%s refused %d line(s) for good: %s; setting them aside (outbox_rejected), "
		 "offending line: %s",
		 ix->log_url, bad->weight, ix->resp->str, line ? line : "(not named)");
	w = (uint64_t)bad->weight;
	outbox_reject(ix->ob, bad->id, ix->resp->str);
	g_mutex_lock(&ix->mu);
	ix->st.lines_rejected += w;
	g_mutex_unlock(&ix->mu);
	g_free(line);
	return true;
}

/* Durable mode: the lines held in memory while the outbox could not take them go in
 * as one record, oldest first. Worker, mu held. Returns 0 or -errno (kept). */
static int move_to_outbox(struct influx *ix)
{
	GString *b = g_string_new(NULL);
	guint n = g_queue_get_length(&ix->queue);
	int rc;

	for (GList *l = ix->queue.head; l; l = l->next) {
		struct qline *q = l->data;
		g_string_append_len(b, q->data, (gssize)q->len);
	}
	rc = outbox_put(ix->ob, OUTBOX_LP, OUTBOX_MEASURE, NULL, b->str, b->len, false, 0, (int)n,
			NULL);
	g_string_free(b, TRUE);
	if (rc == 0) {
		g_queue_clear_full(&ix->queue, g_free);
		log_info("%u line(s) for %s held in memory are in the outbox now", n, ix->log_url);
	}
	return rc;
}

static gpointer worker_durable(gpointer data)
{
	struct influx *ix = data;
	GPtrArray *recs = g_ptr_array_new_with_free_func(outbox_rec_free);
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
	gint64 pending_since = 0; /* monotonic us when lines were first seen waiting */

	g_mutex_lock(&ix->mu);
	for (;;) {
		struct outbox_stats os;
		gint64 now = g_get_monotonic_time(), due;
		long status;
		int lines = 0;
		bool ok;

		if (ix->stopping && now >= ix->stop_deadline)
			break;
		if (!g_queue_is_empty(&ix->queue) && now >= ix->move_at) {
			if (move_to_outbox(ix) < 0)
				ix->move_at = now + G_USEC_PER_SEC;
		}
		g_mutex_unlock(&ix->mu);
		outbox_get_stats(ix->ob, OUTBOX_LP, &os);
		g_mutex_lock(&ix->mu);
		if (os.records == 0) {
			pending_since = 0;
			if (ix->stopping)
				break;
			g_cond_wait_until(&ix->cond, &ix->mu, now + G_USEC_PER_SEC);
			continue;
		}
		if (!pending_since)
			pending_since = now;
		if (ix->retry_at)
			due = ix->retry_at;
		else if (ix->stopping || os.depth >= (uint64_t)ix->batch_size)
			due = now;
		else
			due = pending_since + (gint64)ix->flush_interval_ms * 1000;
		if (ix->stopping && due > ix->stop_deadline)
			due = ix->stop_deadline;
		if (now < due) {
			g_cond_wait_until(&ix->cond, &ix->mu, MIN(due, now + G_USEC_PER_SEC));
			continue;
		}
		g_mutex_unlock(&ix->mu);

		/* Up to batch_size lines, whole records, oldest first (at least one). */
		g_ptr_array_set_size(recs, 0);
		outbox_next(ix->ob, OUTBOX_LP, NULL, 0, ix->single ? 1 : (size_t)ix->batch_size,
			    recs);
		for (guint i = 0; i < recs->len; i++) {
			struct outbox_rec *r = recs->pdata[i];
			if (i > 0 && lines + r->weight > ix->batch_size) {
				g_ptr_array_set_size(recs, i);
				break;
			}
			lines += r->weight;
		}
		if (recs->len == 0) {
			g_mutex_lock(&ix->mu);
			continue;
		}
		ok = post_records(ix, recs, &status);
		if (!ok && status == 415 && ix->gzip) {
			log_info("%s does not take gzip: sending plain text", ix->log_url);
			ix->gzip = false;
			ok = post_records(ix, recs, &status);
		}
		report(ix, ok || status == 400 || status == 422, status, (guint)lines);
		g_array_set_size(ids, 0);
		for (guint i = 0; i < recs->len; i++)
			g_array_append_val(ids, ((struct outbox_rec *)recs->pdata[i])->id);
		if (ok) {
			outbox_remove(ix->ob, (const int64_t *)(void *)ids->data, ids->len);
			ix->single = false;
		} else if (status == 400 || status == 422) {
			if (!set_aside(ix, recs))
				outbox_note_retry(ix->ob, OUTBOX_LP, 0);
		} else {
			outbox_note_retry(ix->ob, OUTBOX_LP, (uint64_t)lines);
		}

		g_mutex_lock(&ix->mu);
		ix->st.last_status = (int)status;
		ix->st.connected = ok || status == 400 || status == 422;
		if (ok) {
			ix->st.lines_sent += (uint64_t)lines;
			ix->st.batches_sent++;
			pending_since = 0;
		} else {
			ix->st.batches_failed++;
			if (status != 400 && status != 422)
				ix->st.lines_retried += (uint64_t)lines;
		}
		if (ok || status == 400 || status == 422) {
			ix->retry_at = 0;
			ix->delay_ms = ix->retry_min_ms;
		} else {
			ix->retry_at = g_get_monotonic_time() + (gint64)ix->delay_ms * 1000;
			ix->delay_ms = ix->delay_ms > ix->retry_max_ms / 2 ? ix->retry_max_ms
									   : ix->delay_ms * 2;
		}
	}
	if (!g_queue_is_empty(&ix->queue) && move_to_outbox(ix) < 0) {
		log_err("stopping with %u line(s) for %s that the outbox could not take: lost",
			g_queue_get_length(&ix->queue), ix->log_url);
		ix->st.lines_dropped += g_queue_get_length(&ix->queue);
	}
	g_mutex_unlock(&ix->mu);
	{
		struct outbox_stats os;
		outbox_get_stats(ix->ob, OUTBOX_LP, &os);
		if (os.depth)
			log_info("stopping with %" G_GUINT64_FORMAT
				 " line(s) for %s kept in the outbox for the next start",
				 os.depth, ix->log_url);
	}
	g_array_free(ids, TRUE);
	g_ptr_array_free(recs, TRUE);
	return NULL;
}

static int create(const struct cfg_influx *cfg, struct outbox *ob, struct influx **out);

int influx_create(const struct cfg_influx *cfg, struct influx **out)
{
	return create(cfg, NULL, out);
}

int influx_create_durable(const struct cfg_influx *cfg, struct outbox *ob, struct influx **out)
{
	if (!ob)
		return -EINVAL;
	return create(cfg, ob, out);
}

static int create(const struct cfg_influx *cfg, struct outbox *ob, struct influx **out)
{
	struct influx *ix;
	int rc;

	*out = NULL;
	rc = check_cfg(cfg);
	if (rc < 0)
		return rc;
	curl_init_once();
	ix = g_new0(struct influx, 1);
	ix->max_buffer = cfg->max_buffer;
	ix->batch_size = MIN(cfg->batch_size, cfg->max_buffer);
	ix->flush_interval_ms = cfg->flush_interval_ms;
	ix->timeout_ms = cfg->timeout_ms;
	ix->retry_min_ms = cfg->retry_min_ms;
	ix->retry_max_ms = cfg->retry_max_ms;
	ix->delay_ms = cfg->retry_min_ms;
	ix->body = g_string_new(NULL);
	ix->resp = g_string_new(NULL);
	g_mutex_init(&ix->mu);
	g_cond_init(&ix->cond);
	g_queue_init(&ix->queue);
	ix->ob = ob;
	ix->gzip = cfg->gzip;
	ix->gz = g_string_new(NULL);
	rc = setup_curl(ix, cfg);
	if (rc < 0)
		goto err_curl;
	ix->thread = g_thread_try_new("influx", ob ? worker_durable : worker, ix, NULL);
	if (!ix->thread) {
		rc = -EAGAIN;
		goto err_curl;
	}
	*out = ix;
	return 0;

err_curl:
	curl_slist_free_all(ix->headers_gz);
	curl_slist_free_all(ix->headers);
	curl_easy_cleanup(ix->curl);
	g_free(ix->write_url);
	g_free(ix->log_url);
	g_string_free(ix->resp, TRUE);
	g_string_free(ix->body, TRUE);
	g_string_free(ix->gz, TRUE);
	g_cond_clear(&ix->cond);
	g_mutex_clear(&ix->mu);
	g_free(ix);
	return rc;
}

int influx_submit(struct influx *ix, const char *lines, size_t len)
{
	GQueue add = G_QUEUE_INIT;
	gint64 now = g_get_monotonic_time();
	const char *p = lines, *end = lines + len;
	uint64_t dropped = 0, run_total = 0;
	bool start_log = false, end_log = false;
	guint before;

	if (len == 0)
		return 0;
	if (lines[len - 1] != '\n')
		return -EINVAL;
	if (ix->ob) {
		int n = 0, rc;
		for (const char *q = lines; q < end; q++)
			n += *q == '\n' && (q == lines || q[-1] != '\n');
		if (n == 0)
			return 0;
		g_mutex_lock(&ix->mu);
		/* Lines held in memory go first, so that order is kept. */
		rc = g_queue_is_empty(&ix->queue) ? outbox_put(ix->ob, OUTBOX_LP, OUTBOX_MEASURE,
							       NULL, lines, len, false, 0, n, NULL)
						  : -EAGAIN;
		if (rc == 0) {
			g_cond_signal(&ix->cond);
			g_mutex_unlock(&ix->mu);
			return 0;
		}
		g_mutex_unlock(&ix->mu);
		/* The outbox cannot take them (disk full): held in memory, bounded like the
		 * plain queue, and moved into the outbox by the worker once it can. */
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)(nl - p) + 1;

		if (n > 1) {
			struct qline *l = g_malloc(sizeof(*l) + n);
			l->t_us = now;
			l->len = n;
			memcpy(l->data, p, n);
			g_queue_push_tail(&add, l);
		}
		p = nl + 1;
	}

	g_mutex_lock(&ix->mu);
	before = g_queue_get_length(&ix->queue);
	while (!g_queue_is_empty(&add)) {
		struct qline *l = g_queue_pop_head(&add);

		if (g_queue_get_length(&ix->queue) + ix->inflight >= (guint)ix->max_buffer) {
			/* Drop the oldest line not in flight; the new one if all are. */
			if (g_queue_is_empty(&ix->queue)) {
				g_free(l);
				l = NULL;
			} else {
				g_free(g_queue_pop_head(&ix->queue));
			}
			dropped++;
		}
		if (l)
			g_queue_push_tail(&ix->queue, l);
	}
	ix->st.lines_dropped += dropped;
	if (dropped) {
		ix->drop_run += dropped;
		start_log = !ix->dropping;
		ix->dropping = true;
	} else if (ix->dropping) {
		end_log = true;
		run_total = ix->drop_run;
		ix->dropping = false;
		ix->drop_run = 0;
	}
	if (before == 0 || (before < (guint)ix->batch_size &&
			    g_queue_get_length(&ix->queue) >= (guint)ix->batch_size))
		g_cond_signal(&ix->cond);
	g_mutex_unlock(&ix->mu);

	if (start_log)
		log_warn("buffer of %d lines for %s is full: dropping the oldest lines",
			 ix->max_buffer, ix->log_url);
	if (end_log)
		log_warn("buffer for %s has room again: %" G_GUINT64_FORMAT " lines were dropped",
			 ix->log_url, run_total);
	return 0;
}

void influx_stats(struct influx *ix, struct influx_stats *out)
{
	g_mutex_lock(&ix->mu);
	*out = ix->st;
	out->lines_queued = g_queue_get_length(&ix->queue) + ix->inflight;
	g_mutex_unlock(&ix->mu);
	if (ix->ob) {
		struct outbox_stats os;
		outbox_get_stats(ix->ob, OUTBOX_LP, &os);
		out->lines_queued += os.depth; /* with the lines held in memory */
		out->lines_dropped += os.dropped;
		out->oldest_ms = os.oldest_ms;
	}
}

void influx_destroy(struct influx *ix, int flush_ms)
{
	if (!ix)
		return;
	g_mutex_lock(&ix->mu);
	ix->stopping = true;
	ix->stop_deadline = g_get_monotonic_time() + (gint64)MAX(flush_ms, 0) * 1000;
	g_cond_signal(&ix->cond);
	g_mutex_unlock(&ix->mu);
	g_thread_join(ix->thread);

	g_queue_clear_full(&ix->queue, g_free);
	curl_slist_free_all(ix->headers_gz);
	curl_slist_free_all(ix->headers);
	g_string_free(ix->gz, TRUE);
	curl_easy_cleanup(ix->curl);
	g_free(ix->write_url);
	g_free(ix->log_url);
	g_string_free(ix->resp, TRUE);
	g_string_free(ix->body, TRUE);
	g_cond_clear(&ix->cond);
	g_mutex_clear(&ix->mu);
	g_free(ix);
}
