import { describe, expect, it } from 'vitest';
import { parseDsn, describeDsn } from '../../src/config/dsn.js';

describe('parseDsn', () => {
  it('reads the Go-driver tcp form', () => {
    expect(parseDsn('root:s3cret@tcp(db.example.com:3307)/app?charset=utf8mb4&parseTime=true')).toEqual({
      engine: 'mysql',
      user: 'root',
      password: 's3cret',
      host: 'db.example.com',
      port: 3307,
      database: 'app',
      params: { charset: 'utf8mb4', parseTime: 'true' },
    });
  });

  it('defaults the port to 3306 and keeps @ and : inside the password', () => {
    const d = parseDsn('admin:p@ss:word@tcp(10.0.0.5)/shop');
    expect(d).toMatchObject({ user: 'admin', password: 'p@ss:word', host: '10.0.0.5', port: 3306, database: 'shop' });
  });

  it('reads unix sockets, IPv6 and an empty database', () => {
    expect(parseDsn('root@unix(/run/mysqld/mysqld.sock)/')).toMatchObject({ user: 'root', socket: '/run/mysqld/mysqld.sock', database: undefined });
    expect(parseDsn('u:p@tcp([::1]:3310)/x')).toMatchObject({ host: '::1', port: 3310 });
    expect(parseDsn('/app')).toMatchObject({ host: '127.0.0.1', port: 3306, user: '', database: 'app' });
  });

  it('reads mysql:// and postgres:// URLs with percent-encoded passwords', () => {
    expect(parseDsn('mysql://bob:a%2Fb%40c@db:3308/sales')).toMatchObject({ engine: 'mysql', user: 'bob', password: 'a/b@c', host: 'db', port: 3308, database: 'sales' });
    expect(parseDsn('postgres://pg:pw@localhost/app?sslmode=require')).toMatchObject({
      engine: 'postgres',
      port: 5432,
      database: 'app',
      params: { sslmode: 'require' },
    });
    expect(parseDsn('postgresql://pg@/app?host=/var/run/postgresql')).toMatchObject({ socket: '/var/run/postgresql' });
  });

  it.each([
    ['', /empty/],
    ['root:pw@tcp(127.0.0.1:3306)', /no "\/"/],
    ['root:pw@tcp(127.0.0.1:99999)/x', /out of range/],
    ['root:pw@tcp(127.0.0.1:abc)/x', /port "abc" is not a number/],
    ['root:pw@udp(1.2.3.4)/x', /network "udp" is not supported/],
    ['redis://x/y', /unsupported DSN scheme/],
    ['root:pw@tcp(h)/db?novalue', /has no value/],
  ])('rejects %j with a clear reason', (dsn, why) => {
    expect(() => parseDsn(dsn)).toThrow(why);
  });

  it('describes a DSN without its password', () => {
    expect(describeDsn(parseDsn('root:hunter22@tcp(h:1)/d'))).toBe('mysql://root:***@h:1/d');
  });
});
